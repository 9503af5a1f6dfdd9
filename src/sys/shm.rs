//! Shared memory: POSIX shared-memory objects (`shm_open`), their size, and mappings.
//!
//! Two owning types, each releasing its resource when dropped: [`Fd`] (a descriptor of a
//! shared-memory object, closed on drop) and [`Mapping`] (a `MAP_SHARED` mapping, unmapped on
//! drop unless told to stay). Every errno goes through [`Error::from_shm_errno`].
//!
//! Nothing here allocates: a forked child of a multithreaded process may use all of it.

use std::ffi::CStr;
use std::ptr::NonNull;

use crate::error::Error;

/// The errno of the calling thread's last failed call.
#[cold]
fn last_error() -> Error {
    let errno = std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EINVAL);
    Error::from_shm_errno(errno)
}

/// A descriptor of an open shared-memory object (`O_RDWR`, close-on-exec), closed when
/// dropped.
#[derive(Debug)]
pub struct Fd(libc::c_int);

impl Fd {
    /// `shm_open(name, O_CREAT | O_EXCL | O_RDWR, mode)`: a new, empty object;
    /// `Err(AlreadyExists)` when the name is taken. The process umask applies to `mode`.
    pub fn create_exclusive(name: &CStr, mode: u32) -> Result<Fd, Error> {
        Fd::open_with(name, libc::O_CREAT | libc::O_EXCL | libc::O_RDWR, mode)
    }

    /// `shm_open(name, O_RDWR)`: an existing object; `Err(NotFound)` when there is none.
    pub fn open_existing(name: &CStr) -> Result<Fd, Error> {
        Fd::open_with(name, libc::O_RDWR, 0)
    }

    fn open_with(name: &CStr, flags: libc::c_int, mode: u32) -> Result<Fd, Error> {
        // SAFETY: `name` is a NUL-terminated string that outlives the call. glibc's shm_open
        // sets FD_CLOEXEC itself.
        let fd = unsafe { libc::shm_open(name.as_ptr(), flags, mode as libc::mode_t) };
        if fd < 0 {
            Err(last_error())
        } else {
            Ok(Fd(fd))
        }
    }

    /// The object's size in bytes (`fstat`): 0 until its creator sets it.
    pub fn size(&self) -> Result<u64, Error> {
        let size = self.stat()?.st_size;
        Ok(u64::try_from(size).unwrap_or(0))
    }

    /// The object's identity, `(st_dev, st_ino)` (`fstat`): the same for every descriptor
    /// of one object, whatever name it was opened by, and never another live object's (an
    /// inode number is not reused while the object is open or mapped).
    pub fn object(&self) -> Result<(u64, u64), Error> {
        let stat = self.stat()?;
        Ok((stat.st_dev, stat.st_ino))
    }

    /// `fstat` of the descriptor.
    fn stat(&self) -> Result<libc::stat, Error> {
        let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
        // SAFETY: `self.0` is an open descriptor; `stat` is valid for writes and filled in
        // when the call succeeds.
        if unsafe { libc::fstat(self.0, stat.as_mut_ptr()) } != 0 {
            return Err(last_error());
        }
        // SAFETY: fstat succeeded, so `stat` is initialised.
        Ok(unsafe { stat.assume_init() })
    }

    /// Sets the object's size (`ftruncate`), then reserves its pages (`posix_fallocate`), so
    /// that a full `/dev/shm` is `Err` here rather than a `SIGBUS` at the first write. A file
    /// system that cannot reserve (`EOPNOTSUPP`) is accepted as it is.
    pub fn set_size(&self, len: u64) -> Result<(), Error> {
        let len = libc::off_t::try_from(len)
            .map_err(|_| Error::InvalidInput("region too large for off_t"))?;
        // SAFETY: `self.0` is an open descriptor; ftruncate touches no memory of ours.
        if unsafe { libc::ftruncate(self.0, len) } != 0 {
            return Err(last_error());
        }
        // SAFETY: as above; posix_fallocate returns an errno instead of setting errno.
        match unsafe { libc::posix_fallocate(self.0, 0, len) } {
            0 | libc::EOPNOTSUPP | libc::EINVAL => Ok(()),
            errno => Err(Error::from_shm_errno(errno)),
        }
    }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor is open and owned by `self`, and closed once, here. An error
        // from close leaves nothing to undo (a mapping keeps the object alive on its own).
        unsafe { libc::close(self.0) };
    }
}

/// `shm_unlink(name)`: removes the name; objects stay alive while mapped.
pub fn unlink(name: &CStr) -> Result<(), Error> {
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    if unsafe { libc::shm_unlink(name.as_ptr()) } != 0 {
        Err(last_error())
    } else {
        Ok(())
    }
}

/// A readable and writable `MAP_SHARED` mapping of `len` bytes, page-aligned, unmapped when
/// dropped (unless [`Mapping::keep_mapped`] was called).
#[derive(Debug)]
pub struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    keep: bool,
}

// SAFETY: a mapping is plain memory owned by this value; which threads may touch its bytes is
// for its users to decide (through atomics), and unmapping needs only ownership.
unsafe impl Send for Mapping {}
// SAFETY: `&Mapping` gives only the address and the length.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps the first `len` bytes of `fd`'s object. Bytes past the object's end must not be
    /// touched (a whole page past it raises `SIGBUS`): callers check the size first.
    pub fn shared(fd: &Fd, len: usize) -> Result<Mapping, Error> {
        Mapping::map(len, libc::MAP_SHARED, fd.0)
    }

    /// `len` bytes of zeroed shared anonymous memory (`MAP_SHARED | MAP_ANONYMOUS`), inherited
    /// by children this process forks.
    pub fn anonymous(len: usize) -> Result<Mapping, Error> {
        Mapping::map(len, libc::MAP_SHARED | libc::MAP_ANONYMOUS, -1)
    }

    fn map(len: usize, flags: libc::c_int, fd: libc::c_int) -> Result<Mapping, Error> {
        if len == 0 {
            return Err(Error::InvalidInput("a mapping cannot be empty"));
        }
        // SAFETY: a new mapping at an address the kernel picks (null hint, no MAP_FIXED), so
        // no existing memory is affected; `fd` is open or -1 with MAP_ANONYMOUS.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                flags,
                fd,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(last_error());
        }
        let ptr = NonNull::new(ptr.cast::<u8>()).ok_or(Error::Os(libc::ENOMEM))?;
        Ok(Mapping {
            ptr,
            len,
            keep: false,
        })
    }

    /// The first byte (page-aligned).
    #[inline]
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The length asked for when mapping.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Leaves the memory mapped when `self` is dropped, until the process exits (for memory
    /// the kernel may still write, such as a held robust mutex).
    pub fn keep_mapped(&mut self) {
        self.keep = true;
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        // SAFETY: `ptr`/`len` describe a mapping this value made and owns; nothing borrows it
        // any more (its users hold borrows of the `Mapping`), and it is unmapped once, here.
        unsafe { libc::munmap(self.as_ptr().cast(), self.len) };
    }
}

/// Whether a process with id `pid` exists and has not died (`kill(pid, 0)` is not `ESRCH`,
/// and the process is not a zombie: one that died but whose parent has not reaped it yet
/// still answers `kill`, yet will never finish what it was doing). A process of another
/// user counts (`EPERM`). `pid` must be positive: 0 and negative values address process
/// groups, so they are answered `false` without a call. No allocation (a stack buffer for
/// `/proc/<pid>/stat`).
pub fn process_exists(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 sends nothing; it only checks that `pid` can be addressed.
    if unsafe { libc::kill(pid, 0) } != 0
        && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    {
        return false;
    }
    !is_zombie(pid)
}

/// Whether `/proc/<pid>/stat` gives the state `Z` (zombie) or `X` (dead). Unreadable (no
/// `/proc`, another pid namespace's process): `false`.
fn is_zombie(pid: i32) -> bool {
    let mut path = [0u8; 32];
    proc_path(&mut path, pid);
    stat_of(&path).is_some_and(|s| matches!(s.state, b'Z' | b'X'))
}

/// How many bits of an identity hold the thread id, and then the process id (Linux's
/// `PID_MAX_LIMIT` is 2^22 on 64-bit targets: every id is below it).
const ID_BITS: u32 = 22;
/// The id fields' mask.
const ID_MASK: u64 = (1 << ID_BITS) - 1;
/// The process start-time tag's bits, above the two ids.
const TAG_BITS: u32 = 64 - 2 * ID_BITS;

/// The calling thread's identity for a `SharedRwLock`'s reader slots: its thread id in bits
/// 0..22, its process id (`getpid`, the thread group) in bits 22..44 and, in bits 44..64,
/// the low 20 bits of its **process**'s start time (field 22 of `/proc/self/stat`, clock
/// ticks since boot; 0 if unreadable), so that a later process that reuses the pid is not
/// taken for it. Never 0 in its low 32 bits (the thread id is not 0). One open and read of
/// `/proc`, no allocation: the caller caches it per thread (and per fork generation: a
/// forked child is another process).
pub fn thread_identity() -> u64 {
    let tid = u64::from(super::pthread::thread_id());
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() } as u64;
    debug_assert!(tid <= ID_MASK && pid <= ID_MASK, "ids below PID_MAX_LIMIT");
    let tag = stat_of(b"/proc/self/stat\0").map_or(0, |s| s.start & ((1 << TAG_BITS) - 1));
    (tag << (2 * ID_BITS)) | ((pid & ID_MASK) << ID_BITS) | (tid & ID_MASK)
}

/// Whether the process of the thread a [`thread_identity`] names is alive: `/proc/<pid>/stat`
/// exists, does not say dead (`X`) or zombie (`Z`, with one thread: a thread-group leader
/// that ended before its other threads shows `Z` too, with more), and (if the identity has a
/// start-time tag) gives a start time with those low 20 bits; without `/proc`, `kill(pid, 0)`
/// is not `ESRCH`. Whether the thread itself still runs does not matter: a thread that ended
/// with a read guard leaked keeps its read held as long as its process lives (references
/// into the data may live on in it). No allocation.
pub fn holder_alive(id: u64) -> bool {
    let pid = ((id >> ID_BITS) & ID_MASK) as i32;
    let tag = id >> (2 * ID_BITS);
    if pid <= 0 {
        return false;
    }
    let mut path = [0u8; 32];
    proc_path(&mut path, pid);
    match stat_of(&path) {
        Some(s) => {
            let dead = s.state == b'X' || (s.state == b'Z' && s.threads <= 1);
            !dead && (tag == 0 || s.start & ((1 << TAG_BITS) - 1) == tag)
        }
        None => {
            // SAFETY: signal 0 sends nothing; it only checks that `pid` can be addressed.
            let r = unsafe { libc::kill(pid, 0) };
            r == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
        }
    }
}

/// `"/proc/<pid>/stat"`, NUL-terminated, into `path`.
fn proc_path(path: &mut [u8; 32], pid: i32) {
    let mut len = 0;
    for &b in b"/proc/" {
        path[len] = b;
        len += 1;
    }
    let mut digits = [0u8; 10];
    let (mut n, mut d) = (pid as u32, 0);
    loop {
        digits[d] = b'0' + (n % 10) as u8;
        d += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    while d > 0 {
        d -= 1;
        path[len] = digits[d];
        len += 1;
    }
    for &b in b"/stat" {
        path[len] = b;
        len += 1;
    }
}

/// What [`stat_of`] reads from a `stat` file.
struct Stat {
    /// Field 3, the state letter.
    state: u8,
    /// Field 20, `num_threads`.
    threads: u64,
    /// Field 22, `starttime`.
    start: u64,
}

/// A decimal field of a `stat` file.
fn decimal(field: &[u8]) -> Option<u64> {
    let mut v: u64 = 0;
    for &b in field {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(v)
}

/// The state letter, the thread count (field 20) and the start time (field 22) of the
/// `stat` file at the NUL-terminated `path`; `None` if it cannot be read or parsed.
fn stat_of(path: &[u8]) -> Option<Stat> {
    debug_assert!(path.contains(&0));
    // SAFETY: `path` is NUL-terminated; the descriptor is closed below.
    let fd = unsafe { libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    let mut buf = [0u8; 1024];
    // SAFETY: `buf` is valid for `buf.len()` bytes of writes; `fd` is open.
    let got = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    // SAFETY: `fd` was opened above and is closed once.
    unsafe { libc::close(fd) };
    let text = &buf[..usize::try_from(got).ok()?];
    // "pid (comm) S f4 f5 ...": fields from 3 on follow the last ')' (comm may hold any byte).
    let rest = &text[text.iter().rposition(|&b| b == b')')? + 1..];
    let mut fields = rest.split(|&b| b == b' ').filter(|f| !f.is_empty());
    let state = *fields.next()?.first()?;
    // Field 3 was the state; field 20 is 17 further on, field 22 two more.
    let threads = decimal(fields.nth(16)?)?;
    let start = decimal(fields.nth(1)?)?;
    Some(Stat {
        state,
        threads,
        start,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identities_name_the_process_and_tell_live_processes_from_dead_ones() {
        let me = thread_identity();
        assert_eq!(me & ID_MASK, u64::from(super::super::pthread::thread_id()));
        assert_eq!((me >> ID_BITS) & ID_MASK, u64::from(std::process::id()));
        let start = stat_of(b"/proc/self/stat\0")
            .expect("is /proc mounted?")
            .start;
        assert_eq!(
            me >> (2 * ID_BITS),
            start & ((1 << TAG_BITS) - 1),
            "start-time tag"
        );
        assert_ne!(me as u32, 0, "the futex half is never 0");
        assert!(holder_alive(me));
        // The same pid with another start time: a process that reused the pid is not this one.
        assert!(!holder_alive(me ^ (1 << (2 * ID_BITS))));
        assert!(!holder_alive(0));
        // Another thread of this process: alive while it runs, and still once it has ended
        // (its process lives: a guard it leaked keeps the read held).
        let other = std::thread::spawn(thread_identity).join().unwrap();
        assert_ne!(other & ID_MASK, me & ID_MASK);
        assert_eq!(
            other >> ID_BITS,
            me >> ID_BITS,
            "the same process, the same tag"
        );
        assert!(holder_alive(other));
        // A child process: alive while it runs, dead once it is a zombie.
        // SAFETY: the child only calls `pause` and `_exit`, async-signal-safe.
        let child = unsafe { libc::fork() };
        if child == 0 {
            // SAFETY: waits for the parent's SIGKILL; `_exit` if a signal returns.
            unsafe {
                libc::pause();
                libc::_exit(0)
            };
        }
        assert!(child > 0, "fork failed");
        let mut path = [0u8; 32];
        proc_path(&mut path, child);
        let start = stat_of(&path).unwrap().start & ((1 << TAG_BITS) - 1);
        let id = (start << (2 * ID_BITS)) | ((child as u64) << ID_BITS) | child as u64;
        assert!(holder_alive(id));
        // SAFETY: this test's own child.
        unsafe { libc::kill(child, libc::SIGKILL) };
        let started = std::time::Instant::now();
        while holder_alive(id) {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(5),
                "never dead"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let mut status = 0;
        // SAFETY: reaps this test's own child.
        assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
        assert!(!holder_alive(id));
    }

    #[test]
    fn a_zombie_does_not_exist_a_live_process_does() {
        assert!(process_exists(std::process::id() as i32));
        assert!(!process_exists(0));
        assert!(!process_exists(-1));
        // SAFETY: the child only calls `_exit`, async-signal-safe in a multithreaded parent.
        let child = unsafe { libc::fork() };
        if child == 0 {
            // SAFETY: ends the child at once.
            unsafe { libc::_exit(0) };
        }
        assert!(child > 0, "fork failed");
        // Not reaped: a zombie as soon as it has exited.
        let start = std::time::Instant::now();
        while process_exists(child) {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(5),
                "never a zombie"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        // SAFETY: signal 0 sends nothing; a zombie still answers it.
        assert_eq!(unsafe { libc::kill(child, 0) }, 0);
        let mut status = 0;
        // SAFETY: reaps this test's own child.
        assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
        assert!(!process_exists(child));
    }
}
