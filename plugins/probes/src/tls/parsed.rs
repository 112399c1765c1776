//! Certificates parsed once, not on every check.
//!
//! A server presents the same chain check after check, and parsing it (x509-parser, the names as
//! text, the SHA-256 fingerprint) was about a tenth of a scheduled `tls` check's CPU. What is
//! parsed depends only on the DER bytes, so a parse is kept by them and handed out as a copy; all
//! that depends on the time (expiry, days left) is judged afresh from it on each check. The cache
//! is bounded: when full it is emptied and fills again with the chains still in use.

use crate::certs::{self, CertInfo};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock, PoisonError};

/// How many distinct certificates are kept (about 2 KiB each with their DER).
const CAPACITY: usize = 1024;

/// Parses `der`, or returns the copy of an earlier parse of the same bytes; `None` when it cannot
/// be parsed (not kept: a broken certificate is rare and its error is cheap to find again).
pub(super) fn parse(der: &[u8]) -> Option<CertInfo> {
    static CACHE: OnceLock<Mutex<HashMap<Box<[u8]>, CertInfo>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(info) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(der)
    {
        return Some(info.clone());
    }
    // Parsed outside the lock, so concurrent checks of other servers do not wait on it.
    let info = certs::parse(der).ok()?;
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() >= CAPACITY {
        cache.clear();
    }
    cache.insert(der.into(), info.clone());
    Some(info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_parse_equals_a_fresh_one_and_garbage_is_none() {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["mail.test".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der = cert.der().to_vec();
        let fresh = certs::parse(&der).unwrap();
        assert_eq!(parse(&der).as_ref(), Some(&fresh));
        assert_eq!(parse(&der).as_ref(), Some(&fresh), "from the cache");
        assert_eq!(parse(b"not a certificate"), None);
    }
}
