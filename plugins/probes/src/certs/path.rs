//! How the presented certificates chain: who issued whom (by name, and by key identifier when
//! both carry one), and the issuer path from the leaf that matters, with how it ends (a trust
//! anchor, a self-signed certificate, or a missing issuer).
//!
//! Like the rest of [`crate::certs`], by names only: the verdict on trust (signatures, constraints) is
//! webpki's; this names the shape of the chain so a failed verification can be explained.

use super::CertInfo;
use std::borrow::Borrow;

impl CertInfo {
    /// True when `self` is, by name (and key identifier when both carry one), the issuer of
    /// `child`. The key identifier tells apart a re-keyed CA that kept its name.
    pub fn is_issuer_of(&self, child: &CertInfo) -> bool {
        child.issuer_der == self.subject_der
            && match (&child.authority_key_id, &self.subject_key_id) {
                (Some(aki), Some(ski)) => aki == ski,
                _ => true,
            }
    }

    /// True when `subject` (the DER content of a Name, without its SEQUENCE header, as rustls'
    /// `TrustAnchor::subject` holds it) is this certificate's issuer.
    pub fn issued_by_name(&self, subject: &[u8]) -> bool {
        self.issuer_der == subject
    }
}

/// How the issuer path from the leaf through the presented certificates ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathEnd {
    /// The last certificate's issuer is a trust anchor (by name; webpki checks the signature).
    Anchored,
    /// The last certificate is self-signed and not a trust anchor.
    SelfSigned,
    /// The last certificate's issuer is neither presented nor a trust anchor.
    MissingIssuer,
}

/// The certificates that matter: the leaf and the presented certificates it chains through, up to
/// a trust anchor, a self-signed certificate, or a missing issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerPath {
    /// Positions in the presented list (0 = leaf), in chain order.
    pub depths: Vec<usize>,
    pub end: PathEnd,
}

impl IssuerPath {
    /// Position of the last certificate on the path.
    pub fn last(&self) -> usize {
        self.depths.last().copied().unwrap_or(0)
    }
}

/// Follows issuers from the leaf (`presented[0]`) through the presented certificates, the way a
/// verifier builds its path, stopping at a certificate a trust anchor issued (`by_anchor`, by
/// name: the caller asks its anchors where it keeps them, so none are copied into a list per
/// check). Certificates that could not be parsed are `None` and never match. Presented
/// certificates off this path (an old cross-signed root, say) do not matter, so their expiry is
/// nobody's problem; `None` when the leaf itself could not be parsed.
pub fn issuer_path<C: Borrow<CertInfo>>(
    presented: &[Option<C>],
    by_anchor: impl Fn(&CertInfo) -> bool,
) -> Option<IssuerPath> {
    let mut current: &CertInfo = presented.first()?.as_ref()?.borrow();
    let mut depths = vec![0];
    loop {
        if by_anchor(current) {
            return Some(IssuerPath {
                depths,
                end: PathEnd::Anchored,
            });
        }
        if current.is_self_signed() {
            return Some(IssuerPath {
                depths,
                end: PathEnd::SelfSigned,
            });
        }
        let next = presented.iter().enumerate().find_map(|(i, c)| match c {
            Some(c) if !depths.contains(&i) && c.borrow().is_issuer_of(current) => {
                Some((i, c.borrow()))
            }
            _ => None,
        });
        match next {
            Some((i, cert)) => {
                depths.push(i);
                current = cert;
            }
            None => {
                return Some(IssuerPath {
                    depths,
                    end: PathEnd::MissingIssuer,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::certs::parse;
    use crate::certs::tests::{pem_der, SHA1_CA, SHA1_LEAF};

    /// The path with trust anchors given by their subjects (DER content, as rustls keeps them).
    fn path(presented: &[Option<CertInfo>], anchors: &[&[u8]]) -> Option<IssuerPath> {
        issuer_path(presented, |c| anchors.iter().any(|a| c.issued_by_name(a)))
    }

    #[test]
    fn issuer_paths() {
        let leaf = parse(&pem_der(SHA1_LEAF)).unwrap();
        let ca = parse(&pem_der(SHA1_CA)).unwrap();
        let ca_subject = ca.subject_der.clone();

        // Leaf alone, issuer unknown: the issuer is missing right after the leaf.
        let p = path(&[Some(leaf.clone())], &[]).unwrap();
        assert_eq!((p.depths.clone(), p.end), (vec![0], PathEnd::MissingIssuer));

        // Leaf alone, its issuer a trust anchor.
        let p = path(&[Some(leaf.clone())], &[&ca_subject]).unwrap();
        assert_eq!((p.depths.clone(), p.end), (vec![0], PathEnd::Anchored));

        // Leaf and an untrusted self-signed root.
        let p = path(&[Some(leaf.clone()), None, Some(ca.clone())], &[]).unwrap();
        assert_eq!((p.depths.clone(), p.end), (vec![0, 2], PathEnd::SelfSigned));
        assert_eq!(p.last(), 2);

        // A self-signed leaf.
        let ca_only = path(&[Some(ca.clone())], &[]).unwrap();
        assert_eq!(ca_only.end, PathEnd::SelfSigned);

        // An unparseable leaf has no path.
        assert!(path(&[None, Some(ca)], &[]).is_none());
        assert!(path(&[], &[]).is_none());
    }
}
