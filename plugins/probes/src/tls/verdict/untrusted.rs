//! An unknown issuer told apart: a self-signed leaf, an incomplete chain (the leaf's issuer was
//! neither sent nor trusted), or an untrusted root.

use super::*;

/// No path to a trust anchor: say whether the leaf signed itself, the server left out the leaf's
/// issuer, or the chain ends at a root nobody here trusts.
pub(super) fn judge_unknown_issuer(chain: &Chain<'_>, leaf: &CertInfo, path: &IssuerPath) -> Fault {
    let last = path.last();
    let last_cert = chain.cert(last).unwrap_or(leaf);
    let presented = chain.presented.len();
    match (path.end, last) {
        (PathEnd::SelfSigned, 0) => {
            // A CA:TRUE leaf is refused even when trusted, so trusting this one would not do.
            let remedy = if leaf.is_ca {
                "use a certificate from a trusted CA, or make a self-signed one without CA:TRUE \
                 and trust it with ca_file"
            } else {
                "use a certificate from a trusted CA, or trust this one with ca_file"
            };
            Fault::critical(
                Reason::TlsSelfSigned,
                Some(18),
                format!(
                    "self-signed certificate: '{}' is signed by itself and is not trusted; \
                     {remedy}",
                    leaf.subject
                ),
            )
            .with_note(format!("'{}' is self-signed and not trusted", leaf.subject))
        }
        (PathEnd::SelfSigned, _) => Fault::critical(
            Reason::TlsUntrustedRoot,
            Some(19),
            format!(
                "the chain ends at the self-signed root '{}' ({}), which is not trusted; if it \
                 is your own CA, add it with ca_file",
                last_cert.subject,
                depth_words(last)
            ),
        )
        .with_note(format!(
            "the chain ends at the self-signed root '{}', which is not trusted",
            last_cert.subject
        )),
        (PathEnd::MissingIssuer, 0) => {
            let sent = if presented == 1 {
                format!("the server sent only the leaf ({})", leaf.subject)
            } else {
                format!(
                    "the server sent {presented} certificates but not the issuer of the leaf ({})",
                    leaf.subject
                )
            };
            let fetch = match leaf.ca_issuers_urls.first() {
                Some(url) => format!("; the issuer can be downloaded from {url}"),
                None => String::new(),
            };
            Fault::critical(
                Reason::TlsChainIncomplete,
                Some(21),
                format!(
                    "certificate chain incomplete: {sent} and not the intermediate '{}' that \
                     issued it{fetch}; if that is a private root CA instead, add it with ca_file",
                    leaf.issuer
                ),
            )
            .with_note(format!(
                "the chain is incomplete: the issuer '{}' was neither sent nor trusted",
                leaf.issuer
            ))
        }
        (PathEnd::MissingIssuer, _) => Fault::critical(
            Reason::TlsUntrustedRoot,
            Some(20),
            format!(
                "the chain ends at '{}' ({}), issued by '{}', which is not a trusted root; if it \
                 is your own CA, add it with ca_file",
                last_cert.subject,
                depth_words(last),
                last_cert.issuer
            ),
        )
        .with_note(format!(
            "the chain ends at '{}', issued by '{}', which is not a trusted root",
            last_cert.subject, last_cert.issuer
        )),
        // The names lead to a trust anchor, yet webpki found no valid path (a different key
        // under the same name, or a constraint): the anchor we know is not the one that signed.
        (PathEnd::Anchored, _) => Fault::critical(
            Reason::TlsUntrustedRoot,
            Some(20),
            format!(
                "'{}' ({}) names a trusted issuer '{}' but does not verify against it (a CA \
                 with the same name and another key?)",
                last_cert.subject,
                depth_words(last),
                last_cert.issuer
            ),
        ),
    }
}
