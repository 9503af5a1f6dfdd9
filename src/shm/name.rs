//! Names of shared-memory objects, checked and kept inline (no allocation).

use std::ffi::CStr;

use crate::error::Error;

/// The longest name, in bytes, the leading `/` included.
pub const NAME_MAX: usize = 255;

/// A valid shared-memory object name, NUL-terminated in place: `/` then 1 to 254 bytes that
/// are neither `/` nor NUL, and not `.` or `..`.
#[derive(Clone)]
pub(super) struct Name {
    len: u8,
    bytes: [u8; NAME_MAX + 1],
}

impl Name {
    pub(super) fn new(name: &str) -> Result<Name, Error> {
        let bytes = name.as_bytes();
        let Some((&b'/', rest)) = bytes.split_first() else {
            return Err(Error::InvalidInput(
                "a shared-memory name must start with '/'",
            ));
        };
        if bytes.len() > NAME_MAX {
            return Err(Error::InvalidInput(
                "a shared-memory name is at most 255 bytes long",
            ));
        }
        if rest.contains(&b'/') {
            return Err(Error::InvalidInput(
                "a shared-memory name has no '/' but the first",
            ));
        }
        if rest.contains(&0) {
            return Err(Error::InvalidInput(
                "a shared-memory name cannot contain NUL",
            ));
        }
        if matches!(rest, b"" | b"." | b"..") {
            return Err(Error::InvalidInput(
                "a shared-memory name needs a file name after '/' (not empty, '.' or '..')",
            ));
        }
        let mut stored = Name {
            len: bytes.len() as u8,
            bytes: [0; NAME_MAX + 1],
        };
        stored.bytes[..bytes.len()].copy_from_slice(bytes);
        Ok(stored)
    }

    pub(super) fn as_str(&self) -> &str {
        let bytes = &self.bytes[..usize::from(self.len)];
        // SAFETY: these bytes were copied from a `&str` in `new`, whole.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    pub(super) fn as_c_str(&self) -> &CStr {
        let with_nul = &self.bytes[..=usize::from(self.len)];
        // SAFETY: `new` refused interior NULs and left the byte after the name 0.
        unsafe { CStr::from_bytes_with_nul_unchecked(with_nul) }
    }
}

impl std::fmt::Debug for Name {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_round_trip() {
        for good in ["/a", "/pthread-sync.region_1", "/..a", "/ü"] {
            let name = Name::new(good).unwrap();
            assert_eq!(name.as_str(), good);
            assert_eq!(name.as_c_str().to_bytes(), good.as_bytes());
        }
        let longest = format!("/{}", "x".repeat(NAME_MAX - 1));
        assert_eq!(Name::new(&longest).unwrap().as_str(), longest);
    }

    #[test]
    fn invalid_names_are_refused() {
        let too_long = format!("/{}", "x".repeat(NAME_MAX));
        for bad in [
            "", "a", "a/", "/", "/.", "/..", "/a/b", "//a", "/a\0b", &too_long,
        ] {
            assert!(
                matches!(Name::new(bad), Err(Error::InvalidInput(_))),
                "{bad:?} was accepted"
            );
        }
    }
}
