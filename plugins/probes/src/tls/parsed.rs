//! Certificates parsed once, not on every check.
//!
//! A server presents the same chain check after check, and parsing it (x509-parser, the names as
//! text, the SHA-256 fingerprint) was about a tenth of a scheduled `tls` check's CPU. What is
//! parsed depends only on the DER bytes, so a parse is kept by them and shared (an `Arc`, not a
//! copy of its dozen strings per check), with the part of the certificate's `details` entry that
//! depends on nothing else (names, dates, key, fingerprint, weaknesses) built once beside it. All
//! that depends on the time (expiry, days left, the verdict) or on the chain (depth, whether the
//! certificate is on the path) is judged afresh on each check. The cache is bounded: when full
//! it is emptied and fills again with the chains still in use.

use crate::certs::{self, CertInfo};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

/// How many distinct certificates are kept (about 3 KiB each with their DER and facts).
const CAPACITY: usize = 1024;

/// One parsed certificate and its facts as the `details` JSON shows them.
#[derive(Debug, Clone)]
pub(super) struct Parsed {
    pub(super) info: Arc<CertInfo>,
    /// The certificate's entry in `details.certificates`, without `depth` and `in_path`.
    pub(super) facts: Arc<Map<String, Value>>,
}

/// Parses `der`, or returns the earlier parse of the same bytes; `None` when it cannot be parsed
/// (not kept: a broken certificate is rare and its error is cheap to find again).
pub(super) fn parse(der: &[u8]) -> Option<Parsed> {
    static CACHE: OnceLock<Mutex<HashMap<Box<[u8]>, Parsed>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some(parsed) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(der)
    {
        return Some(parsed.clone());
    }
    // Parsed outside the lock, so concurrent checks of other servers do not wait on it.
    let info = certs::parse(der).ok()?;
    let parsed = Parsed {
        facts: Arc::new(facts(&info)),
        info: Arc::new(info),
    };
    let mut cache = cache.lock().unwrap_or_else(PoisonError::into_inner);
    if cache.len() >= CAPACITY {
        cache.clear();
    }
    cache.insert(der.into(), parsed.clone());
    Some(parsed)
}

/// What `details.certificates` says of `c` whatever the chain and the time.
fn facts(c: &CertInfo) -> Map<String, Value> {
    let value = json!({
        "subject": c.subject,
        "issuer": c.issuer,
        "subject_cn": c.subject_cn,
        "sans": c.sans.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "not_before": certs::rfc3339(c.not_before),
        "not_after": certs::rfc3339(c.not_after),
        "sha256_fingerprint": c.sha256_fingerprint,
        "key": c.key.to_string(),
        "signature_algorithm": c.signature_algorithm,
        "self_signed": c.is_self_signed(),
        "is_ca": c.is_ca,
        "weaknesses": c.weaknesses(),
    });
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
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
        let first = parse(&der).unwrap();
        assert_eq!(*first.info, fresh);
        let kept = parse(&der).unwrap();
        assert_eq!(*kept.info, fresh, "from the cache");
        assert!(Arc::ptr_eq(&first.info, &kept.info), "shared, not copied");
        assert_eq!(
            kept.facts["sha256_fingerprint"],
            fresh.sha256_fingerprint.as_str()
        );
        assert_eq!(*kept.facts, facts(&fresh));
        assert!(parse(b"not a certificate").is_none());
    }
}
