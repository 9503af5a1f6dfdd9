//! What the lock-order checker (`crate::lock_order`) needs of the system: the environment
//! read without allocating, raw writes to standard error, and a stack captured as raw return
//! addresses into the caller's buffer, symbolized only when printed. Nothing here allocates
//! through the global allocator.

use std::ffi::{c_int, c_void, CStr};

/// The value of the environment variable `name`, read with `getenv` and copied into `buf`
/// at once (no allocation; nothing of the environment block outlives the call, which a
/// later `setenv` may free): its first `buf.len()` bytes. `None` if unset.
pub fn getenv<'b>(name: &CStr, buf: &'b mut [u8; 16]) -> Option<&'b [u8]> {
    // SAFETY: `name` is a valid C string; the result is null or a C string of the
    // environment block, copied below before anything else can run on this thread.
    let p = unsafe { libc::getenv(name.as_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: non-null: a nul-terminated string of the environment block, read at once.
    let value = unsafe { CStr::from_ptr(p) }.to_bytes();
    let n = value.len().min(buf.len());
    buf[..n].copy_from_slice(&value[..n]);
    Some(&buf[..n])
}

/// Writes `bytes` to standard error with `write(2)`, retrying on a short write or `EINTR`;
/// gives up silently on any other error (nothing better can be done with a report).
pub fn write_stderr(mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is valid for reads of its length.
        let n = unsafe { libc::write(libc::STDERR_FILENO, bytes.as_ptr().cast(), bytes.len()) };
        if n > 0 {
            bytes = &bytes[n as usize..];
        } else if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        } else {
            return;
        }
    }
}

// libgcc's unwinder, which every Rust program on linux-gnu already links (std unwinds
// panics with it): walking the stack with it needs no `dlopen` and no `malloc`, unlike
// glibc's `backtrace()`, whose first call loads libgcc_s.
#[allow(non_camel_case_types)]
type _Unwind_Trace_Fn = extern "C" fn(ctx: *mut c_void, arg: *mut c_void) -> c_int;
extern "C" {
    fn _Unwind_Backtrace(trace: _Unwind_Trace_Fn, arg: *mut c_void) -> c_int;
    fn _Unwind_GetIP(ctx: *mut c_void) -> usize;
}

/// `_URC_NO_REASON`: go on to the next frame.
const URC_NO_REASON: c_int = 0;
/// `_URC_NORMAL_STOP`: stop the walk.
const URC_NORMAL_STOP: c_int = 4;

struct Walk<'a> {
    out: &'a mut [usize],
    len: usize,
    skip: usize,
}

extern "C" fn trace(ctx: *mut c_void, arg: *mut c_void) -> c_int {
    // SAFETY: `arg` is the `&mut Walk` `capture_stack` passed, alive for the walk.
    let walk = unsafe { &mut *arg.cast::<Walk<'_>>() };
    // SAFETY: `ctx` is the unwinder's context of the current frame.
    let ip = unsafe { _Unwind_GetIP(ctx) };
    if ip == 0 {
        return URC_NORMAL_STOP;
    }
    if walk.skip > 0 {
        walk.skip -= 1;
        return URC_NO_REASON;
    }
    if walk.len >= walk.out.len() {
        return URC_NORMAL_STOP;
    }
    walk.out[walk.len] = ip;
    walk.len += 1;
    URC_NO_REASON
}

/// The return addresses of the calling thread's stack, innermost first, after skipping
/// `skip` frames, into `out`; how many were written.
#[inline(never)]
pub fn capture_stack(out: &mut [usize], skip: usize) -> usize {
    let mut walk = Walk { out, len: 0, skip };
    // SAFETY: `trace` has the signature the unwinder calls; `arg` points at `walk`, alive
    // until `_Unwind_Backtrace` returns, and only `trace` uses it.
    unsafe { _Unwind_Backtrace(trace, (&mut walk as *mut Walk<'_>).cast()) };
    walk.len
}

/// Writes one line per address of `frames` to standard error, symbolized as glibc's
/// `backtrace_symbols_fd` does (`binary(symbol+offset) [address]`, mangled names; it does
/// not call `malloc`).
pub fn write_symbols_stderr(frames: &[usize]) {
    if frames.is_empty() {
        return;
    }
    let len = c_int::try_from(frames.len()).unwrap_or(c_int::MAX);
    // SAFETY: `frames` holds `len` addresses, read as `void *` values (usize and pointers
    // have one layout on the supported targets); the call writes to fd 2 only.
    unsafe {
        libc::backtrace_symbols_fd(
            frames.as_ptr().cast::<*mut c_void>(),
            len,
            libc::STDERR_FILENO,
        )
    };
}
