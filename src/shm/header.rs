//! The 64-byte header at offset 0 of every region, and the checks an opener makes on it.
//!
//! The byte layout is documented in the module docs of [`crate::shm`]; the compile-time
//! assertions below keep this struct equal to it.

use std::mem::{align_of, offset_of, size_of};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicU32, AtomicU64};

use super::ShmSafe;
use crate::error::Error;
use crate::publication::{Publication, Stage};
use crate::sys::shm::{process_exists, Mapping};

/// The first 8 bytes of every region: the ASCII text `PSYNCSHM` (as a native-endian `u64`:
/// `0x4d48_5343_4e59_5350` on little-endian machines).
pub const MAGIC: u64 = u64::from_ne_bytes(*b"PSYNCSHM");
/// The layout version this build writes and reads.
pub const LAYOUT_VERSION: u32 = 1;
/// The header's size in bytes.
pub const HEADER_SIZE: usize = 64;

/// The header, every field an atomic so that reading a header another process is writing (or
/// scribbling over) is never a data race. All fields are native-endian.
#[repr(C)]
pub(super) struct Header {
    magic: AtomicU64,
    version: AtomicU32,
    header_size: AtomicU32,
    data_size: AtomicU64,
    data_align: AtomicU64,
    fingerprint: AtomicU64,
    /// `init_state` (offset 40) and `creator_pid` (offset 44): the publication protocol.
    publication: Publication,
    data_offset: AtomicU64,
    total_len: AtomicU64,
}

// The documented layout: natural alignment, no padding, 64 bytes.
const _: () = {
    assert!(size_of::<Header>() == HEADER_SIZE);
    assert!(align_of::<Header>() == 8);
    assert!(offset_of!(Header, magic) == 0);
    assert!(offset_of!(Header, version) == 8);
    assert!(offset_of!(Header, header_size) == 12);
    assert!(offset_of!(Header, data_size) == 16);
    assert!(offset_of!(Header, data_align) == 24);
    assert!(offset_of!(Header, fingerprint) == 32);
    assert!(offset_of!(Header, publication) == 40);
    assert!(size_of::<Publication>() == 8);
    assert!(offset_of!(Header, data_offset) == 48);
    assert!(offset_of!(Header, total_len) == 56);
};

/// Where `T` goes in a region, and how long the region is; checked at compile time.
pub(super) struct Layout<T>(std::marker::PhantomData<T>);

impl<T: ShmSafe> Layout<T> {
    /// The offset of the value: `max(64, align_of::<T>())`, a multiple of `T`'s alignment
    /// (alignments are powers of two).
    pub(super) const DATA_OFFSET: usize = {
        assert!(
            !std::mem::needs_drop::<T>(),
            "a value in shared memory is never dropped: T must not need drop"
        );
        assert!(
            align_of::<T>() <= 4096,
            "T's alignment must be at most 4096 (the smallest page size), where mmap aligns"
        );
        if align_of::<T>() > HEADER_SIZE {
            align_of::<T>()
        } else {
            HEADER_SIZE
        }
    };

    /// The region's length: the header, padding up to the value, and the value.
    pub(super) const TOTAL_LEN: usize = match Self::DATA_OFFSET.checked_add(size_of::<T>()) {
        Some(len) => len,
        None => panic!("T is too large for a region"),
    };
}

/// The type fingerprint a region of `T` carries in its header (offset 32): `n` when `T`
/// declares [`ShmSafe::FINGERPRINT`] as `Some(n)` (the number a C program, or any program
/// that agrees on it, writes and expects), else the one computed from Rust's name of the type
/// (FNV-1a over `type_name`, size and alignment: see the
/// [module docs](crate::shm#the-type-fingerprint)).
///
/// ```
/// use pthread_sync::shm::{self, ShmSafe};
///
/// #[repr(C)]
/// struct Shared {
///     count: std::sync::atomic::AtomicU64,
/// }
/// // SAFETY: #[repr(C)], an atomic only; the number names this layout and no other.
/// unsafe impl ShmSafe for Shared {
///     const FINGERPRINT: Option<u64> = Some(0x5053_594e_4344_4f43);
/// }
/// assert_eq!(shm::fingerprint::<Shared>(), 0x5053_594e_4344_4f43);
/// assert_ne!(shm::fingerprint::<u64>(), shm::fingerprint::<i64>());
/// ```
pub fn fingerprint<T: ShmSafe>() -> u64 {
    match T::FINGERPRINT {
        Some(agreed) => agreed,
        None => type_name_fingerprint::<T>(),
    }
}

/// FNV-1a (64-bit) over `std::any::type_name::<T>()`, then `size_of::<T>()` and
/// `align_of::<T>()` as 8 little-endian bytes each.
fn type_name_fingerprint<T>() -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    std::any::type_name::<T>()
        .bytes()
        .chain((size_of::<T>() as u64).to_le_bytes())
        .chain((align_of::<T>() as u64).to_le_bytes())
        .fold(OFFSET_BASIS, |hash, byte| {
            (hash ^ u64::from(byte)).wrapping_mul(PRIME)
        })
}

/// What an opener learns from one look at the header.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Progress {
    /// The creator has not finished (and may still be alive): look again later.
    Pending,
    /// The value is written; the layout checks come next.
    Ready,
}

impl Header {
    /// The header at the start of `map`.
    ///
    /// # Safety
    /// The object `map` maps must be at least [`HEADER_SIZE`] bytes long (past its end, reads
    /// raise `SIGBUS`).
    pub(super) unsafe fn of(map: &Mapping) -> &Header {
        assert!(map.len() >= HEADER_SIZE);
        // Every field is an atomic, valid for any bytes, and shared access through atomics is
        // sound whatever other processes do.
        // SAFETY: the mapping is page-aligned (so aligned for the header), at least
        // HEADER_SIZE bytes of an object as long (the caller's promise), alive for `map`'s borrow.
        unsafe { &*map.as_ptr().cast::<Header>() }
    }

    /// Writes every field but the state and the pid (the state stays 0), then
    /// `creator_pid` and `init_state = 1` (Release: [`Publication::begin`]). The region is fresh:
    /// zero-filled and seen by no opener past state 0.
    pub(super) fn begin_init<T: ShmSafe>(&self, pid: i32) {
        self.magic.store(MAGIC, Relaxed);
        self.version.store(LAYOUT_VERSION, Relaxed);
        self.header_size.store(HEADER_SIZE as u32, Relaxed);
        self.data_size.store(size_of::<T>() as u64, Relaxed);
        self.data_align.store(align_of::<T>() as u64, Relaxed);
        self.fingerprint.store(fingerprint::<T>(), Relaxed);
        self.data_offset
            .store(Layout::<T>::DATA_OFFSET as u64, Relaxed);
        self.total_len.store(Layout::<T>::TOTAL_LEN as u64, Relaxed);
        self.publication.begin(pid);
    }

    /// Publishes the value written since [`Header::begin_init`]: `init_state = 2`
    /// (Release).
    pub(super) fn finish_init(&self) {
        self.publication.finish();
    }

    /// One look at the state (Acquire, so a `Ready` makes the creator's writes visible), the
    /// magic and the version.
    ///
    /// - state 0: `Pending`, unless the magic is already something else than 0 or ours.
    /// - then the magic and the version must be ours;
    /// - state 1: `Err(CreatorDied)` when the creator's pid no longer exists, else `Pending`;
    /// - state 2: `Ready`; any other state: `Err(CorruptHeader)`.
    pub(super) fn progress(&self) -> Result<Progress, Error> {
        let stage = self.publication.look();
        let magic = self.magic.load(Relaxed);
        if stage == Stage::Unwritten {
            return match magic {
                0 | MAGIC => Ok(Progress::Pending),
                found => Err(Error::BadMagic { found }),
            };
        }
        if magic != MAGIC {
            return Err(Error::BadMagic { found: magic });
        }
        let version = self.version.load(Relaxed);
        if version != LAYOUT_VERSION {
            return Err(Error::VersionMismatch {
                found: version,
                expected: LAYOUT_VERSION,
            });
        }
        match stage {
            Stage::Initialising { creator: pid } => {
                if pid <= 0 {
                    Err(Error::CorruptHeader("creator pid is not a process id"))
                } else if process_exists(pid) {
                    Ok(Progress::Pending)
                } else {
                    Err(Error::CreatorDied { pid })
                }
            }
            Stage::Ready => Ok(Progress::Ready),
            Stage::Unwritten | Stage::Unknown(_) => {
                Err(Error::CorruptHeader("init state is not 0, 1 or 2"))
            }
        }
    }

    /// The checks of a ready header against `T`: header size, size, alignment and fingerprint
    /// of `T`, the data offset and the total length. The object's real size is checked by the
    /// caller.
    pub(super) fn check_layout<T: ShmSafe>(&self) -> Result<(), Error> {
        if self.header_size.load(Relaxed) != HEADER_SIZE as u32 {
            return Err(Error::CorruptHeader("header size is not 64"));
        }
        let expect = |what, found: u64, expected: u64| {
            if found == expected {
                Ok(())
            } else {
                Err(Error::TypeMismatch {
                    what,
                    found,
                    expected,
                })
            }
        };
        expect("size", self.data_size.load(Relaxed), size_of::<T>() as u64)?;
        expect(
            "alignment",
            self.data_align.load(Relaxed),
            align_of::<T>() as u64,
        )?;
        expect(
            "type fingerprint",
            self.fingerprint.load(Relaxed),
            fingerprint::<T>(),
        )?;
        if self.data_offset.load(Relaxed) != Layout::<T>::DATA_OFFSET as u64 {
            return Err(Error::CorruptHeader(
                "data offset is not max(64, alignment of the type)",
            ));
        }
        if self.total_len.load(Relaxed) != Layout::<T>::TOTAL_LEN as u64 {
            return Err(Error::CorruptHeader(
                "total length is not data offset + size of the type",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C, align(256))]
    struct Wide(u8);
    // SAFETY: a plain byte, aligned.
    unsafe impl ShmSafe for Wide {}

    #[test]
    fn data_offset_follows_alignment() {
        assert_eq!(Layout::<u8>::DATA_OFFSET, 64);
        assert_eq!(Layout::<u64>::DATA_OFFSET, 64);
        assert_eq!(Layout::<u64>::TOTAL_LEN, 72);
        assert_eq!(Layout::<Wide>::DATA_OFFSET, 256);
        assert_eq!(Layout::<Wide>::TOTAL_LEN, 512);
    }

    #[test]
    fn magic_spells_its_name() {
        assert_eq!(&MAGIC.to_ne_bytes(), b"PSYNCSHM");
    }

    /// The fingerprint is FNV-1a as documented: the reference vector of FNV-1a 64 for "a" is
    /// 0xaf63dc4c8601ec8c; ours continues with size and alignment.
    #[test]
    fn fingerprint_is_documented_fnv1a() {
        let fnv = |bytes: &[u8]| {
            bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            })
        };
        assert_eq!(fnv(b"a"), 0xaf63_dc4c_8601_ec8c);
        let mut input = b"u64".to_vec();
        input.extend_from_slice(&8u64.to_le_bytes());
        input.extend_from_slice(&8u64.to_le_bytes());
        assert_eq!(fingerprint::<u64>(), fnv(&input));
        assert_ne!(fingerprint::<u64>(), fingerprint::<i64>());
    }

    #[repr(C)]
    struct Agreed(u64);
    // SAFETY: an integer; the number below names this layout only.
    unsafe impl ShmSafe for Agreed {
        const FINGERPRINT: Option<u64> = Some(0x0123_4567_89ab_cdef);
    }

    /// A declared fingerprint is used verbatim (not hashed, not mixed with size or
    /// alignment); a type that declares none keeps the computed one.
    #[test]
    fn a_declared_fingerprint_is_used_verbatim() {
        assert_eq!(fingerprint::<Agreed>(), 0x0123_4567_89ab_cdef);
        assert_ne!(type_name_fingerprint::<Agreed>(), 0x0123_4567_89ab_cdef);
        assert_eq!(fingerprint::<Wide>(), type_name_fingerprint::<Wide>());
    }
}
