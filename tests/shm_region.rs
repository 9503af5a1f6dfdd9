//! Shared-memory regions across processes: `ShmBox` shared with forked children, named regions
//! opened by other processes, the `open_or_create` race, and hostile regions forged byte by
//! byte with raw libc from the layout the module docs give.
//!
//! `harness = false`: this `main` runs every case on its one thread, so `fork` is safe. Every
//! child does raw memory work and the calls under test only (no allocation, no printing, no
//! panics) and leaves with `_exit`; the parent checks every exit status. A failing case unwinds
//! through guards that kill and reap its children and unlink its names, so no run leaves a
//! process or a `/dev/shm` name behind.

use std::ffi::CString;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::sync::atomic::{AtomicU32, AtomicU64};
use std::time::{Duration, Instant};

use pthread_sync::shm::{self, ShmBox, ShmSafe};
use pthread_sync::Error;

mod support;

/// The value most cases share.
#[derive(Debug)]
#[repr(C)]
struct Shared {
    value: u64,
    reply: AtomicU64,
    counter: AtomicU64,
}
// SAFETY: #[repr(C)], integers and atomics only; `value` is written once by the creator.
unsafe impl ShmSafe for Shared {}

impl Shared {
    fn new(value: u64) -> Shared {
        Shared {
            value,
            reply: AtomicU64::new(0),
            counter: AtomicU64::new(0),
        }
    }
}

use support::Outcome::{self, Passed, Skipped};
use support::{fork_child, Case, Child};

fn main() {
    let cases: &[Case] = &[
        (
            "anonymous_region_shared_with_a_forked_child",
            anonymous_region_shared_with_a_forked_child,
        ),
        (
            "named_region_opened_by_a_forked_child",
            named_region_opened_by_a_forked_child,
        ),
        (
            "open_or_create_race_has_one_creator",
            open_or_create_race_has_one_creator,
        ),
        (
            "create_of_an_existing_name_is_already_exists",
            create_of_an_existing_name_is_already_exists,
        ),
        (
            "open_of_a_missing_name_is_not_found",
            open_of_a_missing_name_is_not_found,
        ),
        (
            "invalid_names_are_invalid_input",
            invalid_names_are_invalid_input,
        ),
        ("unlink_keeps_mappings_valid", unlink_keeps_mappings_valid),
        (
            "header_scribbled_after_open_affects_later_openers_only",
            header_scribbled_after_open_affects_later_openers_only,
        ),
        ("failed_create_leaves_no_name", failed_create_leaves_no_name),
        (
            "forged_region_per_the_docs_opens",
            forged_region_per_the_docs_opens,
        ),
        ("wrong_magic_is_bad_magic", wrong_magic_is_bad_magic),
        (
            "other_version_is_version_mismatch",
            other_version_is_version_mismatch,
        ),
        ("other_type_is_type_mismatch", other_type_is_type_mismatch),
        (
            "inconsistent_header_is_corrupt",
            inconsistent_header_is_corrupt,
        ),
        (
            "object_too_small_for_t_is_too_small",
            object_too_small_for_t_is_too_small,
        ),
        (
            "size_zero_is_unfinished_within_the_bound",
            size_zero_is_unfinished_within_the_bound,
        ),
        (
            "dead_creator_is_creator_died_at_once",
            dead_creator_is_creator_died_at_once,
        ),
        (
            "live_creator_that_finishes_is_waited_for",
            live_creator_that_finishes_is_waited_for,
        ),
        (
            "no_permission_is_permission_denied",
            no_permission_is_permission_denied,
        ),
    ];
    support::run(cases);
}

// ---- helpers: children, names, forged objects ----

/// A unique name, `/pthread-sync-test-<pid>-<case>`, unlinked when dropped (and before use,
/// in case a killed earlier run with the same pid left it).
struct ShmName(String);

impl ShmName {
    fn new(case: &str) -> ShmName {
        let name = ShmName(format!("/pthread-sync-test-{}-{case}", std::process::id()));
        let _ = shm::unlink(&name.0);
        name
    }

    fn as_str(&self) -> &str {
        &self.0
    }

    fn c_string(&self) -> CString {
        CString::new(self.0.as_str()).unwrap()
    }

    fn exists(&self) -> bool {
        std::path::Path::new("/dev/shm").join(&self.0[1..]).exists()
    }
}

impl Drop for ShmName {
    fn drop(&mut self) {
        let _ = shm::unlink(&self.0);
    }
}

/// A header written field by field at the offsets the module docs give.
#[derive(Clone, Copy)]
struct Forged {
    magic: [u8; 8],
    version: u32,
    header_size: u32,
    data_size: u64,
    data_align: u64,
    fingerprint: u64,
    init_state: u32,
    creator_pid: i32,
    data_offset: u64,
    total_len: u64,
}

/// FNV-1a 64 over the type's name, then its size and alignment as 8 little-endian bytes each:
/// the fingerprint as the module docs define it, computed independently of the crate.
fn fingerprint<T>() -> u64 {
    let mut bytes = std::any::type_name::<T>().as_bytes().to_vec();
    bytes.extend_from_slice(&(size_of::<T>() as u64).to_le_bytes());
    bytes.extend_from_slice(&(align_of::<T>() as u64).to_le_bytes());
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash: u64, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
        })
}

impl Forged {
    /// A correct, ready header for `T` (created by this process).
    fn ready_for<T>() -> Forged {
        let data_offset = align_of::<T>().max(64) as u64;
        Forged {
            magic: *b"PSYNCSHM",
            version: 1,
            header_size: 64,
            data_size: size_of::<T>() as u64,
            data_align: align_of::<T>() as u64,
            fingerprint: fingerprint::<T>(),
            init_state: 2,
            creator_pid: std::process::id() as i32,
            data_offset,
            total_len: data_offset + size_of::<T>() as u64,
        }
    }

    fn bytes(&self) -> [u8; 64] {
        let mut out = [0u8; 64];
        let mut put =
            |offset: usize, field: &[u8]| out[offset..offset + field.len()].copy_from_slice(field);
        put(0, &self.magic);
        put(8, &self.version.to_ne_bytes());
        put(12, &self.header_size.to_ne_bytes());
        put(16, &self.data_size.to_ne_bytes());
        put(24, &self.data_align.to_ne_bytes());
        put(32, &self.fingerprint.to_ne_bytes());
        put(40, &self.init_state.to_ne_bytes());
        put(44, &self.creator_pid.to_ne_bytes());
        put(48, &self.data_offset.to_ne_bytes());
        put(56, &self.total_len.to_ne_bytes());
        out
    }
}

/// Creates the object `name` with raw libc (mode 0600): `ftruncate` to `size` (none: left at
/// size 0, as between a creator's `shm_open` and its `ftruncate`), then each `(offset, bytes)`
/// written with `pwrite`.
fn forge(name: &ShmName, size: Option<u64>, writes: &[(u64, &[u8])]) {
    let c_name = name.c_string();
    // SAFETY: a NUL-terminated name; a new object.
    let fd = unsafe {
        libc::shm_open(
            c_name.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_RDWR,
            0o600,
        )
    };
    assert!(
        fd >= 0,
        "shm_open {}: {}",
        name.as_str(),
        io::Error::last_os_error()
    );
    if let Some(size) = size {
        // SAFETY: `fd` is open.
        let done = unsafe { libc::ftruncate(fd, size as libc::off_t) };
        assert_eq!(done, 0, "ftruncate: {}", io::Error::last_os_error());
    }
    for (offset, bytes) in writes {
        // SAFETY: `fd` is open; `bytes` is valid for reads of its length.
        let n = unsafe {
            libc::pwrite(
                fd,
                bytes.as_ptr().cast(),
                bytes.len(),
                *offset as libc::off_t,
            )
        };
        assert_eq!(
            n,
            bytes.len() as isize,
            "pwrite: {}",
            io::Error::last_os_error()
        );
    }
    // SAFETY: `fd` is open and closed once.
    unsafe { libc::close(fd) };
}

/// Forges `header` followed by `value`'s bytes at the header's data offset, in an object of
/// exactly `total_len` bytes.
fn forge_region<T: Copy>(name: &ShmName, header: &Forged, value: T) {
    // SAFETY: `T: Copy` values in these tests are plain integers and arrays: no padding.
    let value_bytes =
        unsafe { std::slice::from_raw_parts((&value as *const T).cast::<u8>(), size_of::<T>()) };
    forge(
        name,
        Some(header.total_len),
        &[(0, &header.bytes()), (header.data_offset, value_bytes)],
    );
}

/// Forges the region `case` holding a `u64` under `header`, and opens it as `T`: the error.
fn forged_u64_open_err<T: ShmSafe>(case: &str, header: Forged) -> Error {
    let name = ShmName::new(case);
    forge_region(&name, &header, 1u64);
    open_err::<T>(&name)
}

/// A shared mapping of an existing object, made with raw libc; unmapped when dropped.
struct RawMap {
    ptr: *mut u8,
    len: usize,
}

impl RawMap {
    fn new(name: &ShmName, len: usize) -> RawMap {
        let c_name = name.c_string();
        // SAFETY: a NUL-terminated name.
        let fd = unsafe { libc::shm_open(c_name.as_ptr(), libc::O_RDWR, 0) };
        assert!(fd >= 0, "shm_open: {}", io::Error::last_os_error());
        // SAFETY: a new mapping of `len` bytes of an object at least that long.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd,
                0,
            )
        };
        // SAFETY: `fd` is open; the mapping keeps the object alive.
        unsafe { libc::close(fd) };
        assert_ne!(
            ptr,
            libc::MAP_FAILED,
            "mmap: {}",
            io::Error::last_os_error()
        );
        RawMap {
            ptr: ptr.cast(),
            len,
        }
    }

    /// The header's `init_state` word, atomically.
    fn init_state(&self) -> &AtomicU32 {
        // SAFETY: offset 40 is inside the mapping and 4-aligned (the mapping is page-aligned);
        // the mapping outlives the borrow; other processes access the word atomically too.
        unsafe { AtomicU32::from_ptr(self.ptr.add(40).cast()) }
    }

    /// The header's `creator_pid` field.
    fn creator_pid(&self) -> &AtomicU32 {
        // SAFETY: as for `init_state`, at offset 44.
        unsafe { AtomicU32::from_ptr(self.ptr.add(44).cast()) }
    }
}

impl Drop for RawMap {
    fn drop(&mut self) {
        // SAFETY: a mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

/// Runs `f`, which is expected to panic, without printing the panic.
fn expect_panic<R>(f: impl FnOnce() -> R) -> std::thread::Result<R> {
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    panic::set_hook(hook);
    result
}

/// `open` (whose wait bound is 1 s) on a bad region, expecting an error that comes at once
/// (within 100 ms), before any `&T`.
fn open_err<T: ShmSafe>(name: &ShmName) -> Error {
    let started = Instant::now();
    let result = ShmBox::<T>::open(name.as_str());
    let took = started.elapsed();
    assert!(took < Duration::from_millis(100), "took {took:?}");
    match result {
        Ok(_) => panic!("a bad region was opened"),
        Err(err) => err,
    }
}

/// `Error::TypeMismatch` with its three fields.
fn type_mismatch(what: &'static str, found: u64, expected: u64) -> Error {
    Error::TypeMismatch {
        what,
        found,
        expected,
    }
}

// ---- the cases ----

fn anonymous_region_shared_with_a_forked_child() -> Outcome {
    const EACH: u64 = 100_000;
    let counter = ShmBox::anonymous(AtomicU64::new(0)).unwrap();
    let child = fork_child(|| {
        for _ in 0..EACH {
            counter.fetch_add(1, Relaxed);
        }
        0
    });
    for _ in 0..EACH {
        counter.fetch_add(1, Relaxed);
    }
    assert_eq!(child.wait(), 0);
    assert_eq!(counter.load(Relaxed), 2 * EACH);
    Passed
}

fn named_region_opened_by_a_forked_child() -> Outcome {
    let name = ShmName::new("named");
    let region = ShmBox::create(name.as_str(), 0o600, Shared::new(0xfeed)).unwrap();
    assert_eq!(region.name(), Some(name.as_str()));
    let path = name.as_str();
    let child = fork_child(|| match ShmBox::<Shared>::open(path) {
        Ok(opened) if opened.value == 0xfeed && opened.name() == Some(path) => {
            opened.reply.store(0xbeef, Release);
            opened.counter.fetch_add(1, Relaxed);
            0
        }
        Ok(_) => 2,
        Err(_) => 3,
    });
    assert_eq!(
        child.wait(),
        0,
        "the child could not open the region or saw another value"
    );
    assert_eq!(region.reply.load(Acquire), 0xbeef);
    assert_eq!(region.counter.load(Relaxed), 1);
    Passed
}

fn open_or_create_race_has_one_creator() -> Outcome {
    const CHILDREN: usize = 4;
    const ROUNDS: usize = 10;
    for round in 0..ROUNDS {
        let name = ShmName::new(&format!("race-{round}"));
        // [0]: the start gate; [1 + i]: the value child i saw; [1 + CHILDREN + i]: created.
        let board = ShmBox::anonymous([const { AtomicU64::new(0) }; 1 + 2 * CHILDREN]).unwrap();
        let path = name.as_str();
        let board_ref = &board;
        let children: Vec<Child> = (0..CHILDREN)
            .map(|i| {
                fork_child(move || {
                    let board = board_ref;
                    let started = Instant::now();
                    while board[0].load(Acquire) == 0 {
                        if started.elapsed() > Duration::from_secs(10) {
                            return 9;
                        }
                        std::hint::spin_loop();
                    }
                    let mine = 1000 + i as u64;
                    match ShmBox::open_or_create(path, 0o600, || Shared::new(mine)) {
                        Ok((region, created)) => {
                            board[1 + i].store(region.value, Relaxed);
                            board[1 + CHILDREN + i].store(u64::from(created), Relaxed);
                            0
                        }
                        Err(_) => 3,
                    }
                })
            })
            .collect();
        board[0].store(1, Release);
        for (i, child) in children.into_iter().enumerate() {
            assert_eq!(child.wait(), 0, "round {round}: child {i} failed");
        }
        let creators: Vec<usize> = (0..CHILDREN)
            .filter(|&i| board[1 + CHILDREN + i].load(Relaxed) == 1)
            .collect();
        assert_eq!(creators.len(), 1, "round {round}: creators {creators:?}");
        let expected = 1000 + creators[0] as u64;
        for i in 0..CHILDREN {
            assert_eq!(
                board[1 + i].load(Relaxed),
                expected,
                "round {round}: child {i}"
            );
        }
    }
    Passed
}

fn create_of_an_existing_name_is_already_exists() -> Outcome {
    let name = ShmName::new("exists");
    let first = ShmBox::create(name.as_str(), 0o600, Shared::new(1)).unwrap();
    let err = ShmBox::create(name.as_str(), 0o600, Shared::new(2)).unwrap_err();
    assert_eq!(err, Error::AlreadyExists);
    assert_eq!(err.errno(), libc::EEXIST);
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    // The existing region is untouched, and open_or_create opens it without calling `value`.
    let (opened, created) =
        ShmBox::open_or_create(name.as_str(), 0o600, || -> Shared { panic!("called") }).unwrap();
    assert!(!created);
    assert_eq!((first.value, opened.value), (1, 1));
    Passed
}

fn open_of_a_missing_name_is_not_found() -> Outcome {
    let name = ShmName::new("missing");
    let err = open_err::<u64>(&name);
    assert_eq!(err, Error::NotFound);
    assert_eq!(err.errno(), libc::ENOENT);
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
    assert_eq!(shm::unlink(name.as_str()), Err(Error::NotFound));
    Passed
}

fn invalid_names_are_invalid_input() -> Outcome {
    let too_long = format!("/{}", "x".repeat(255));
    let bad = [
        "",
        "no-slash",
        "/",
        "/.",
        "/..",
        "/a/b",
        "/nul\0byte",
        too_long.as_str(),
    ];
    for name in bad {
        let is_invalid = |result: Result<(), Error>| matches!(result, Err(Error::InvalidInput(_)));
        assert!(
            is_invalid(ShmBox::create(name, 0o600, 1u64).map(drop)),
            "create {name:?}"
        );
        assert!(
            is_invalid(ShmBox::<u64>::open(name).map(drop)),
            "open {name:?}"
        );
        assert!(
            is_invalid(ShmBox::open_or_create(name, 0o600, || 1u64).map(drop)),
            "open_or_create {name:?}"
        );
        assert!(is_invalid(shm::unlink(name)), "unlink {name:?}");
    }
    assert!(!std::path::Path::new("/dev/shm/no-slash").exists());
    // The longest valid name works.
    let longest = ShmName(format!("/{}", "y".repeat(254)));
    let region = ShmBox::create(longest.as_str(), 0o600, 5u64).unwrap();
    assert_eq!(*region, 5);
    assert_eq!(
        ShmBox::create("/fine", 0o1777, 1u8).map(drop),
        Err(Error::InvalidInput(
            "a shared-memory mode has permission bits only (at most 0o777)"
        ))
    );
    Passed
}

fn unlink_keeps_mappings_valid() -> Outcome {
    let name = ShmName::new("unlink");
    let created = ShmBox::create(name.as_str(), 0o600, Shared::new(7)).unwrap();
    let opened = ShmBox::<Shared>::open(name.as_str()).unwrap();
    shm::unlink(name.as_str()).unwrap();
    assert!(!name.exists());
    opened.counter.fetch_add(3, Relaxed);
    assert_eq!(
        created.counter.load(Relaxed),
        3,
        "both mappings still share the memory"
    );
    // The name is free again: a new, separate object.
    let again = ShmBox::create(name.as_str(), 0o600, Shared::new(8)).unwrap();
    assert_eq!((again.value, again.counter.load(Relaxed)), (8, 0));
    Passed
}

/// The header is checked once, at `open` (the trust model of the module docs): scribbled
/// over afterwards, it changes nothing for the processes that have the region open, and the
/// next opener refuses it.
fn header_scribbled_after_open_affects_later_openers_only() -> Outcome {
    let name = ShmName::new("scribbled");
    let created = ShmBox::create(name.as_str(), 0o600, Shared::new(7)).unwrap();
    let opened = ShmBox::<Shared>::open(name.as_str()).unwrap();
    let raw = RawMap::new(&name, 64);
    // SAFETY: the first 8 bytes of the 64-byte mapping, aligned: the magic, which no process
    // of the crate reads once it has the region open.
    unsafe {
        raw.ptr
            .cast::<u64>()
            .write_volatile(u64::from_ne_bytes(*b"SCRIBBLE"))
    };
    opened.counter.fetch_add(1, Relaxed);
    assert_eq!((created.value, created.counter.load(Relaxed)), (7, 1));
    assert_eq!(
        open_err::<Shared>(&name),
        Error::BadMagic {
            found: u64::from_ne_bytes(*b"SCRIBBLE")
        }
    );
    Passed
}

fn failed_create_leaves_no_name() -> Outcome {
    let name = ShmName::new("panicking-value");
    let result = expect_panic(|| {
        ShmBox::<Shared>::open_or_create(name.as_str(), 0o600, || panic!("no value today"))
    });
    assert!(result.is_err(), "the panic came through");
    assert!(!name.exists(), "the half-made region was unlinked");
    assert_eq!(open_err::<Shared>(&name), Error::NotFound);
    Passed
}

fn forged_region_per_the_docs_opens() -> Outcome {
    // A region written by "another program" from the documented layout alone.
    let name = ShmName::new("forged-ok");
    forge_region(&name, &Forged::ready_for::<[u64; 3]>(), [11u64, 22, 33]);
    let region = ShmBox::<[u64; 3]>::open(name.as_str()).unwrap();
    assert_eq!(*region, [11, 22, 33]);
    // And a region with an over-aligned type: the value sits at its alignment.
    #[derive(Clone, Copy)]
    #[repr(C, align(256))]
    struct Wide(u64);
    // SAFETY: an integer, aligned.
    unsafe impl ShmSafe for Wide {}
    let wide = ShmName::new("forged-wide");
    let header = Forged::ready_for::<Wide>();
    assert_eq!((header.data_offset, header.total_len), (256, 512));
    forge_region(&wide, &header, Wide(99));
    assert_eq!(ShmBox::<Wide>::open(wide.as_str()).unwrap().0, 99);
    Passed
}

fn wrong_magic_is_bad_magic() -> Outcome {
    let foreign = Forged {
        magic: *b"NOTMAGIC",
        ..Forged::ready_for::<u64>()
    };
    let err = forged_u64_open_err::<u64>("magic", foreign);
    let found = u64::from_ne_bytes(*b"NOTMAGIC");
    assert_eq!(err, Error::BadMagic { found });
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("magic"), "{err}");
    // A foreign magic is refused at once even while the state word still reads 0.
    let unwritten = Forged {
        init_state: 0,
        ..foreign
    };
    let err = forged_u64_open_err::<u64>("magic-state0", unwritten);
    assert_eq!(err, Error::BadMagic { found });
    Passed
}

fn other_version_is_version_mismatch() -> Outcome {
    let newer = Forged {
        version: 2,
        ..Forged::ready_for::<u64>()
    };
    let err = forged_u64_open_err::<u64>("version", newer);
    assert_eq!(
        err,
        Error::VersionMismatch {
            found: 2,
            expected: 1
        }
    );
    assert!(err.to_string().contains("version 2"), "{err}");
    Passed
}

fn other_type_is_type_mismatch() -> Outcome {
    // The size differs: a region of u64 opened as u32 (the crate made this one).
    let sized = ShmName::new("type-size");
    let _region = ShmBox::create(sized.as_str(), 0o600, 5u64).unwrap();
    let err = open_err::<u32>(&sized);
    assert_eq!(err, type_mismatch("size", 8, 4));
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    // Same size and alignment, another type: only the fingerprint tells (forged as i64).
    let err = forged_u64_open_err::<u64>("type-fingerprint", Forged::ready_for::<i64>());
    assert_eq!(
        err,
        type_mismatch(
            "type fingerprint",
            fingerprint::<i64>(),
            fingerprint::<u64>()
        )
    );
    // The alignment differs.
    let misaligned = Forged {
        data_align: 4,
        ..Forged::ready_for::<u64>()
    };
    let err = forged_u64_open_err::<u64>("type-align", misaligned);
    assert_eq!(err, type_mismatch("alignment", 4, 8));
    Passed
}

fn inconsistent_header_is_corrupt() -> Outcome {
    let good = Forged::ready_for::<u64>();
    let forged = [
        (
            "corrupt-header-size",
            Forged {
                header_size: 32,
                ..good
            },
        ),
        (
            "corrupt-offset",
            Forged {
                data_offset: 128,
                total_len: 136,
                ..good
            },
        ),
        (
            "corrupt-total",
            Forged {
                total_len: 4096,
                ..good
            },
        ),
        (
            "corrupt-state",
            Forged {
                init_state: 7,
                ..good
            },
        ),
        (
            "corrupt-pid",
            Forged {
                init_state: 1,
                creator_pid: -1,
                ..good
            },
        ),
    ];
    for (case, header) in forged {
        let name = ShmName::new(case);
        forge(&name, Some(4096), &[(0, &header.bytes())]);
        let err = open_err::<u64>(&name);
        assert!(matches!(err, Error::CorruptHeader(_)), "{case}: {err:?}");
    }
    Passed
}

fn object_too_small_for_t_is_too_small() -> Outcome {
    // A correct header for 8 KiB of data, in an object of one page: reading the value would
    // raise SIGBUS, so the size must be checked before any `&T`.
    let name = ShmName::new("small");
    let header = Forged::ready_for::<[u64; 1024]>();
    forge(&name, Some(4096), &[(0, &header.bytes())]);
    let err = open_err::<[u64; 1024]>(&name);
    assert_eq!(
        err,
        Error::TooSmall {
            size: 4096,
            needed: 64 + 8192
        }
    );
    assert!(err.to_string().contains("4096"), "{err}");
    Passed
}

fn size_zero_is_unfinished_within_the_bound() -> Outcome {
    let bound = Duration::from_millis(50);
    // shm_open and no ftruncate: a creator stuck (or dead) before sizing the object.
    let empty = ShmName::new("size-zero");
    forge(&empty, None, &[]);
    // Sized, but the header never written (state 0): a creator that died before it.
    let unwritten = ShmName::new("state-zero");
    forge(&unwritten, Some(4096), &[]);
    for name in [&empty, &unwritten] {
        let started = Instant::now();
        let result = ShmBox::<u64>::open_timeout(name.as_str(), bound);
        let took = started.elapsed();
        assert_eq!(
            result.map(drop),
            Err(Error::Unfinished),
            "{}",
            name.as_str()
        );
        assert!(took >= bound, "gave up early: {took:?}");
        assert!(
            took < Duration::from_millis(500),
            "waited far past the bound: {took:?}"
        );
    }
    assert_eq!(Error::Unfinished.kind(), io::ErrorKind::TimedOut);
    let started = Instant::now();
    let result = ShmBox::<u64>::open_timeout(empty.as_str(), Duration::ZERO);
    assert_eq!(result.map(drop), Err(Error::Unfinished));
    assert!(started.elapsed() < Duration::from_millis(50));
    Passed
}

fn dead_creator_is_creator_died_at_once() -> Outcome {
    let creator = fork_child(|| loop {
        // SAFETY: waits for a signal; SIGKILL ends it.
        unsafe { libc::pause() };
    });
    let pid = creator.pid();
    creator.kill_and_reap();
    let initialising = Forged {
        init_state: 1,
        creator_pid: pid,
        ..Forged::ready_for::<u64>()
    };
    // The default wait is 1 s; a dead creator must be reported at once (open_err: 100 ms).
    let err = forged_u64_open_err::<u64>("dead-creator", initialising);
    assert_eq!(err, Error::CreatorDied { pid });
    assert!(err.to_string().contains(&pid.to_string()), "{err}");
    Passed
}

fn live_creator_that_finishes_is_waited_for() -> Outcome {
    let name = ShmName::new("live-creator");
    // Everything written but the state: the "creator" child publishes it.
    let header = Forged {
        init_state: 0,
        ..Forged::ready_for::<u64>()
    };
    forge_region(&name, &header, 4242u64);
    let raw = RawMap::new(&name, 64);
    let raw_ref = &raw;
    let creator = fork_child(|| {
        let raw = raw_ref;
        // Wait (bounded) for the parent to record this child as the creator, then finish
        // "initialising" 100 ms later.
        let started = Instant::now();
        while raw.init_state().load(Acquire) != 1 {
            if started.elapsed() > Duration::from_secs(10) {
                return 9;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(100));
        raw.init_state().store(2, Release);
        0
    });
    raw.creator_pid().store(creator.pid() as u32, Relaxed);
    raw.init_state().store(1, Release);
    let started = Instant::now();
    let region = ShmBox::<u64>::open(name.as_str()).expect("the creator finished within the wait");
    let took = started.elapsed();
    assert_eq!(*region, 4242);
    assert!(
        took >= Duration::from_millis(90),
        "did not wait for the creator: {took:?}"
    );
    assert!(took < Duration::from_millis(900), "{took:?}");
    assert_eq!(creator.wait(), 0);
    Passed
}

fn no_permission_is_permission_denied() -> Outcome {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Skipped("not root: cannot switch to another user to test permissions");
    }
    const NOBODY: libc::uid_t = 65534;
    let name = ShmName::new("no-permission");
    let _region = ShmBox::create(name.as_str(), 0o600, 1u64).unwrap();
    let path = name.as_str();
    let child = fork_child(|| {
        // SAFETY: changes this child's user ids only.
        if unsafe { libc::setuid(NOBODY) } != 0 {
            return 77;
        }
        match ShmBox::<u64>::open(path) {
            Err(Error::PermissionDenied) => 0,
            Err(_) => 2,
            Ok(_) => 3,
        }
    });
    match child.wait() {
        0 => Passed,
        77 => Skipped("setuid(65534) failed in the child"),
        code => panic!("the child opened the region or got another error (exit {code})"),
    }
}
