//! A certificate's public key: its kind and size, read from the DER subjectPublicKeyInfo, and
//! whether it is weak (to rustls, and to `openssl s_client` at its default security level).

use std::fmt;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;
use x509_parser::x509::SubjectPublicKeyInfo;

/// Smallest RSA (and DSA) key that is not weak, in bits.
pub const MIN_RSA_BITS: u32 = 2048;
/// Smallest elliptic-curve key that is not weak, in bits.
pub const MIN_EC_BITS: u32 = 256;

/// The kind of a certificate's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Rsa,
    /// Elliptic curve, with the curve's common name (`P-256`) or its OID when unknown.
    Ec(String),
    Ed25519,
    Ed448,
    Dsa,
    /// Anything else, by OID.
    Other(String),
}

/// A certificate's public key: its kind and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub algorithm: KeyAlgorithm,
    /// Size in bits (0 when unknown).
    pub bits: u32,
}

impl KeyInfo {
    /// Why this key is weak, if it is: RSA or DSA below 2048 bits, an elliptic curve below 256.
    pub fn weakness(&self) -> Option<String> {
        match &self.algorithm {
            KeyAlgorithm::Rsa if self.bits > 0 && self.bits < MIN_RSA_BITS => {
                Some(format!("{self} key (less than {MIN_RSA_BITS} bits)"))
            }
            KeyAlgorithm::Dsa => Some("DSA key (obsolete; current clients refuse it)".to_string()),
            KeyAlgorithm::Ec(_) if self.bits > 0 && self.bits < MIN_EC_BITS => {
                Some(format!("{self} key (less than {MIN_EC_BITS} bits)"))
            }
            _ => None,
        }
    }

    /// True when `openssl s_client` at its default security level (2 in Debian's and most
    /// distributions' OpenSSL 3: 112 bits of security) refuses this key with verify code 66 (leaf)
    /// or 67 (CA): RSA and DSA under 2048 bits, elliptic curves under 224. (A DSA key's size is not
    /// read; DSA server keys are 1024-bit where they still exist, and no current client speaks
    /// DSA at all.) A P-224 key is weak to rustls, which verifies no curve under P-256, but not
    /// to openssl.
    pub fn openssl_refuses(&self) -> bool {
        match &self.algorithm {
            KeyAlgorithm::Rsa => self.bits > 0 && self.bits < MIN_RSA_BITS,
            KeyAlgorithm::Dsa => true,
            KeyAlgorithm::Ec(_) => self.bits > 0 && self.bits < 224,
            _ => false,
        }
    }
}

impl fmt::Display for KeyInfo {
    /// `RSA 2048`, `EC P-256`, `Ed25519`: the words `openssl x509 -text` uses, shortened.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.algorithm {
            KeyAlgorithm::Rsa => write!(f, "RSA {}", self.bits),
            KeyAlgorithm::Dsa => f.write_str("DSA"),
            KeyAlgorithm::Ec(curve) => write!(f, "EC {curve}"),
            KeyAlgorithm::Ed25519 => f.write_str("Ed25519"),
            KeyAlgorithm::Ed448 => f.write_str("Ed448"),
            KeyAlgorithm::Other(oid) => write!(f, "unknown key type {oid}"),
        }
    }
}

/// The key in a DER subjectPublicKeyInfo, with or without its SEQUENCE header (rustls keeps a
/// trust anchor's without): `None` when it cannot be parsed.
pub fn key_of_spki(spki: &[u8]) -> Option<KeyInfo> {
    if let Ok((_, parsed)) = SubjectPublicKeyInfo::from_der(spki) {
        return Some(key_info(&parsed));
    }
    let mut wrapped = vec![0x30];
    match u32::try_from(spki.len()).ok()? {
        n @ 0..=0x7f => wrapped.push(n as u8),
        n @ 0x80..=0xff => wrapped.extend([0x81, n as u8]),
        n @ 0x100..=0xffff => wrapped.extend([0x82, (n >> 8) as u8, n as u8]),
        _ => return None,
    }
    wrapped.extend_from_slice(spki);
    let (_, parsed) = SubjectPublicKeyInfo::from_der(&wrapped).ok()?;
    Some(key_info(&parsed))
}

pub(super) fn key_info(spki: &SubjectPublicKeyInfo<'_>) -> KeyInfo {
    let oid = spki.algorithm.algorithm.to_id_string();
    match oid.as_str() {
        "1.2.840.113549.1.1.1" => {
            let bits = match spki.parsed() {
                Ok(PublicKey::RSA(rsa)) => bit_length(rsa.modulus),
                _ => 0,
            };
            KeyInfo {
                algorithm: KeyAlgorithm::Rsa,
                bits,
            }
        }
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            let (name, bits) = match curve.as_str() {
                "1.2.840.10045.3.1.1" => ("P-192".to_string(), 192),
                "1.3.132.0.33" => ("P-224".to_string(), 224),
                "1.2.840.10045.3.1.7" => ("P-256".to_string(), 256),
                "1.3.132.0.34" => ("P-384".to_string(), 384),
                "1.3.132.0.35" => ("P-521".to_string(), 521),
                "1.3.132.0.10" => ("secp256k1".to_string(), 256),
                "1.3.36.3.3.2.8.1.1.7" => ("brainpoolP256r1".to_string(), 256),
                "1.3.36.3.3.2.8.1.1.11" => ("brainpoolP384r1".to_string(), 384),
                "1.3.36.3.3.2.8.1.1.13" => ("brainpoolP512r1".to_string(), 512),
                other => {
                    // An uncompressed point is 04 || X || Y: half the rest is one coordinate.
                    let point = &spki.subject_public_key.data;
                    let bits = match point.first() {
                        Some(4) => (point.len().saturating_sub(1) / 2 * 8) as u32,
                        _ => 0,
                    };
                    (other.to_string(), bits)
                }
            };
            KeyInfo {
                algorithm: KeyAlgorithm::Ec(name),
                bits,
            }
        }
        "1.3.101.112" => KeyInfo {
            algorithm: KeyAlgorithm::Ed25519,
            bits: 256,
        },
        "1.3.101.113" => KeyInfo {
            algorithm: KeyAlgorithm::Ed448,
            bits: 448,
        },
        "1.2.840.10040.4.1" => KeyInfo {
            // DSA is weak at any size for us (no current TLS client accepts it), so its size is
            // not worth reading out of the domain parameters.
            algorithm: KeyAlgorithm::Dsa,
            bits: 0,
        },
        _ => KeyInfo {
            algorithm: KeyAlgorithm::Other(oid),
            bits: 0,
        },
    }
}

/// Bits in a big-endian unsigned integer, leading zero bytes and bits not counted. (x509-parser's
/// own `key_size` is off for moduli without a leading zero byte.)
fn bit_length(be: &[u8]) -> u32 {
    let digits: &[u8] = match be.iter().position(|&b| b != 0) {
        Some(i) => &be[i..],
        None => return 0,
    };
    let top = u32::from(digits[0]);
    let len = u32::try_from(digits.len()).unwrap_or(u32::MAX);
    len.saturating_sub(1)
        .saturating_mul(8)
        .saturating_add(32 - top.leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bit_lengths() {
        assert_eq!(bit_length(&[]), 0);
        assert_eq!(bit_length(&[0, 0]), 0);
        assert_eq!(bit_length(&[1]), 1);
        assert_eq!(bit_length(&[0x80, 0]), 16);
        assert_eq!(bit_length(&[0, 0x7f, 0]), 15);
    }

    #[test]
    fn key_weakness_thresholds() {
        let key = |algorithm, bits| KeyInfo { algorithm, bits };
        assert!(key(KeyAlgorithm::Rsa, 2047).weakness().is_some());
        assert!(key(KeyAlgorithm::Rsa, 2048).weakness().is_none());
        assert!(key(KeyAlgorithm::Dsa, 0).weakness().is_some());
        assert!(key(KeyAlgorithm::Ec("P-224".into()), 224)
            .weakness()
            .is_some());
        assert!(key(KeyAlgorithm::Ec("P-256".into()), 256)
            .weakness()
            .is_none());
        assert!(key(KeyAlgorithm::Ed25519, 256).weakness().is_none());
        assert!(
            key(KeyAlgorithm::Rsa, 0).weakness().is_none(),
            "unknown is not weak"
        );
    }
}
