//! Proof Key for Code Exchange (RFC 7636) and the `state` value of an authorization request.
//!
//! The verifier is the secret half: it stays in the agent's memory and goes only to the token
//! endpoint with the code; the S256 challenge travels in the authorization URL. A code that
//! leaks on its way back (another program on the loopback port, a pasted URL seen by someone)
//! is useless without the verifier.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use mailbeat_sdk::Secret;
use ring::rand::{SecureRandom, SystemRandom};

/// Random bytes behind a verifier: 32 octets make the 43-character verifier RFC 7636 §4.1
/// recommends (256 bits of entropy).
const VERIFIER_BYTES: usize = 32;
/// Random bytes behind a `state`: 128 bits, unguessable by anyone who has not seen the request.
const STATE_BYTES: usize = 16;

/// No random bytes could be had from the operating system.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the operating system gave no random bytes")]
pub struct NoRandom;

/// A PKCE pair for one authorization request.
#[derive(Debug, Clone)]
pub struct Pkce {
    /// `code_verifier`: sent only with the code, to the token endpoint.
    pub verifier: Secret,
    /// `code_challenge` (method S256): sent in the authorization URL.
    pub challenge: String,
}

impl Pkce {
    /// A fresh verifier from the system's random source, and its S256 challenge.
    pub fn new() -> Result<Pkce, NoRandom> {
        let verifier = random_base64url(VERIFIER_BYTES)?;
        let challenge = s256_challenge(&verifier);
        Ok(Pkce {
            verifier: Secret::new(verifier),
            challenge,
        })
    }
}

/// `BASE64URL(SHA256(ASCII(verifier)))` without padding (RFC 7636 §4.2, method S256).
pub fn s256_challenge(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// A fresh `state` for an authorization request (RFC 6749 §10.12): it binds the answer that
/// comes back to the request this agent made.
pub fn new_state() -> Result<String, NoRandom> {
    random_base64url(STATE_BYTES)
}

fn random_base64url(n: usize) -> Result<String, NoRandom> {
    let mut bytes = vec![0u8; n];
    SystemRandom::new().fill(&mut bytes).map_err(|_| NoRandom)?;
    Ok(URL_SAFE_NO_PAD.encode(&bytes))
}

/// Compares two strings in time that depends only on their lengths (for `state`).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7636_appendix_b_vector() {
        assert_eq!(
            s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_43_unreserved_characters_and_differ() {
        let a = Pkce::new().unwrap();
        let b = Pkce::new().unwrap();
        let v = a.verifier.expose();
        // RFC 7636 §4.1: 43 to 128 characters of [A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~".
        assert!((43..=128).contains(&v.len()), "{}", v.len());
        assert!(v
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-._~".contains(&c)));
        assert_ne!(v, b.verifier.expose());
        assert_eq!(a.challenge, s256_challenge(v));
        assert_eq!(a.challenge.len(), 43);
        assert!(!format!("{a:?}").contains(v), "Debug shows no verifier");
    }

    #[test]
    fn states_are_unguessable_and_compare() {
        let s = new_state().unwrap();
        assert_eq!(s.len(), 22);
        assert_ne!(s, new_state().unwrap());
        assert!(same(&s, &s.clone()));
        assert!(!same(&s, &s[1..]));
        assert!(!same("abc", "abd"));
    }
}
