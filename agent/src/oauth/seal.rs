//! Sealing tokens at rest: ChaCha20-Poly1305 (ring) under a key stretched from
//! `global.state_key_file` with HKDF-SHA256.
//!
//! A sealed value is `1 || nonce (12) || ciphertext+tag`; a value stored without a key is
//! `0 || plaintext`. The token set's name and the column are the associated data, so a sealed
//! value moved to another row or column does not open.

use ring::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};

/// The least key material `state_key_file` must hold.
pub const MIN_KEY_BYTES: usize = 32;

const PLAIN: u8 = 0;
const SEALED: u8 = 1;
/// Domain separation: this key seals tokens and nothing else.
const HKDF_INFO: &[u8] = b"mailbeat token store v1";

/// Why a stored value could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    #[error("the tokens in the state database are sealed; set global.state_key_file to the key they were sealed with")]
    NoKey,
    #[error("a sealed token does not open with the configured state key (a different key, or the file was altered)")]
    WrongKey,
    #[error("a stored token is malformed")]
    Malformed,
    #[error("the system gave no random bytes for a nonce")]
    Random,
}

/// Seals and opens stored values; without a key it stores them as they are.
pub struct Sealer {
    key: Option<LessSafeKey>,
    random: SystemRandom,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("sealed", &self.key.is_some())
            .finish()
    }
}

struct KeyLen;

impl hkdf::KeyType for KeyLen {
    fn len(&self) -> usize {
        CHACHA20_POLY1305.key_len()
    }
}

impl Sealer {
    /// A sealer that stores values in plaintext (no `state_key_file`).
    pub fn plaintext() -> Sealer {
        Sealer {
            key: None,
            random: SystemRandom::new(),
        }
    }

    /// A sealer under `material` (at least [`MIN_KEY_BYTES`] bytes, checked by the config).
    pub fn with_key(material: &[u8]) -> Sealer {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"mailbeat").extract(material);
        let mut key = [0u8; 32];
        // Both calls fail only for an output length HKDF cannot give; 32 bytes it always can.
        if let Ok(okm) = prk.expand(&[HKDF_INFO], KeyLen) {
            let _ = okm.fill(&mut key);
        }
        let key = UnboundKey::new(&CHACHA20_POLY1305, &key)
            .map(LessSafeKey::new)
            .ok();
        Sealer {
            key,
            random: SystemRandom::new(),
        }
    }

    /// True when values are sealed.
    pub fn is_sealing(&self) -> bool {
        self.key.is_some()
    }

    /// `value` as stored, bound to `context` (the set's name and column).
    pub fn seal(&self, value: &str, context: &str) -> Result<Vec<u8>, SealError> {
        let Some(key) = &self.key else {
            let mut out = vec![PLAIN];
            out.extend_from_slice(value.as_bytes());
            return Ok(out);
        };
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let mut data = value.as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context.as_bytes()),
            &mut data,
        )
        .map_err(|_| SealError::Random)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + data.len());
        out.push(SEALED);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&data);
        Ok(out)
    }

    /// The value of a stored `blob` bound to `context`.
    pub fn open(&self, blob: &[u8], context: &str) -> Result<String, SealError> {
        match blob.split_first() {
            Some((&PLAIN, rest)) => {
                String::from_utf8(rest.to_vec()).map_err(|_| SealError::Malformed)
            }
            Some((&SEALED, rest)) => {
                let key = self.key.as_ref().ok_or(SealError::NoKey)?;
                if rest.len() < NONCE_LEN + aead::MAX_TAG_LEN {
                    return Err(SealError::Malformed);
                }
                let (nonce, sealed) = rest.split_at(NONCE_LEN);
                let nonce =
                    Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Malformed)?;
                let mut data = sealed.to_vec();
                let plain = key
                    .open_in_place(nonce, Aad::from(context.as_bytes()), &mut data)
                    .map_err(|_| SealError::WrongKey)?;
                String::from_utf8(plain.to_vec()).map_err(|_| SealError::Malformed)
            }
            _ => Err(SealError::Malformed),
        }
    }

    /// True when `blob` is stored in plaintext.
    pub fn is_plain(blob: &[u8]) -> bool {
        blob.first() == Some(&PLAIN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn sealed_values_open_with_the_key_and_context_only() {
        let s = Sealer::with_key(KEY);
        let blob = s.seal("1//refresh-token", "nas/refresh").unwrap();
        assert!(!blob
            .windows(b"refresh-token".len())
            .any(|w| w == b"refresh-token"));
        assert_eq!(s.open(&blob, "nas/refresh").unwrap(), "1//refresh-token");
        assert_eq!(s.open(&blob, "nas/access"), Err(SealError::WrongKey));
        let other = Sealer::with_key(b"another key of thirty-two bytes!!");
        assert_eq!(other.open(&blob, "nas/refresh"), Err(SealError::WrongKey));
        assert_eq!(
            Sealer::plaintext().open(&blob, "nas/refresh"),
            Err(SealError::NoKey)
        );
    }

    #[test]
    fn two_seals_differ_and_plaintext_round_trips() {
        let s = Sealer::with_key(KEY);
        assert_ne!(s.seal("x", "c").unwrap(), s.seal("x", "c").unwrap());
        let p = Sealer::plaintext();
        let blob = p.seal("tok", "c").unwrap();
        assert!(Sealer::is_plain(&blob));
        assert_eq!(
            s.open(&blob, "c").unwrap(),
            "tok",
            "a key still reads old plaintext"
        );
    }

    #[test]
    fn damaged_blobs_are_errors_not_panics() {
        let s = Sealer::with_key(KEY);
        for blob in [
            &b""[..],
            &[1u8][..],
            &[1u8; 20][..],
            &[7u8, 1, 2][..],
            &[0u8, 0xff][..],
        ] {
            assert!(s.open(blob, "c").is_err());
        }
    }
}
