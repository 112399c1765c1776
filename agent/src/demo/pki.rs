//! The demo's certificates, made at start with rcgen: a root CA that the generated config trusts
//! (`ca_file`), an intermediate under it, and server certificates that are good, sent without
//! their intermediate, expired, or made out for another name.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::time::{Duration, SystemTime};

/// What a demo server presents: its chain as sent on the wire and its key.
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Identity {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// Every certificate the demo needs.
pub struct Pki {
    /// The demo root CA (PEM), written to the config's `ca_file`.
    pub root_pem: String,
    /// Valid for [`super::SERVER_NAME`], sent with its intermediate.
    pub good: Identity,
    /// Valid, but sent without the intermediate that signed it.
    pub incomplete: Identity,
    /// Ended a month ago.
    pub expired: Identity,
    /// Made out for [`OTHER_NAME`], not the name the target asks for.
    pub wrong_name: Identity,
    /// Valid, but ends in ten days.
    pub expiring: Identity,
}

/// The name on the certificate of the host-name mismatch scenario.
pub const OTHER_NAME: &str = "mail.other-company.example";

const DAY: Duration = Duration::from_secs(86_400);

/// A certificate-making step failed (rcgen refuses only what the code here never asks for).
#[derive(Debug, thiserror::Error)]
#[error("cannot make the demo certificates: {0}")]
pub struct PkiError(#[from] rcgen::Error);

impl Pki {
    /// Makes the CA, the intermediate and the server certificates.
    pub fn generate(server_name: &str) -> Result<Pki, PkiError> {
        let now = SystemTime::now();
        let root = ca("mailbeat demo root CA", None)?;
        let intermediate = ca("mailbeat demo intermediate CA", Some(&root))?;
        let chained =
            |leaf: rcgen::Certificate| vec![leaf.der().clone(), intermediate.der().clone()];
        let (good, key) = leaf(server_name, now - DAY, now + 90 * DAY, &intermediate)?;
        let good = Identity {
            chain: chained(good),
            key,
        };
        let (incomplete, key) = leaf(server_name, now - DAY, now + 90 * DAY, &intermediate)?;
        let incomplete = Identity {
            chain: vec![incomplete.der().clone()],
            key,
        };
        let (expired, key) = leaf(server_name, now - 400 * DAY, now - 30 * DAY, &intermediate)?;
        let expired = Identity {
            chain: chained(expired),
            key,
        };
        let (wrong, key) = leaf(OTHER_NAME, now - DAY, now + 90 * DAY, &intermediate)?;
        let wrong_name = Identity {
            chain: chained(wrong),
            key,
        };
        let (expiring, key) = leaf(server_name, now - 80 * DAY, now + 10 * DAY, &intermediate)?;
        let expiring = Identity {
            chain: chained(expiring),
            key,
        };
        Ok(Pki {
            root_pem: root.pem(),
            good,
            incomplete,
            expired,
            wrong_name,
            expiring,
        })
    }
}

fn ca(
    cn: &str,
    issuer: Option<&CertifiedIssuer<'static, KeyPair>>,
) -> Result<CertifiedIssuer<'static, KeyPair>, PkiError> {
    let mut p = CertificateParams::new(Vec::<String>::new())?;
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name
        .push(DnType::OrganizationName, "mailbeat demo");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let key = KeyPair::generate()?;
    Ok(match issuer {
        None => CertifiedIssuer::self_signed(p, key)?,
        Some(i) => CertifiedIssuer::signed_by(p, key, i)?,
    })
}

fn leaf(
    name: &str,
    not_before: SystemTime,
    not_after: SystemTime,
    issuer: &CertifiedIssuer<'static, KeyPair>,
) -> Result<(rcgen::Certificate, PrivateKeyDer<'static>), PkiError> {
    let mut p = CertificateParams::new(vec![name.to_string()])?;
    p.distinguished_name.push(DnType::CommonName, name);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let (y, m, d) = day_of(not_before);
    p.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = day_of(not_after);
    p.not_after = rcgen::date_time_ymd(y, m, d);
    let key = KeyPair::generate()?;
    let cert = p.signed_by(&key, issuer)?;
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((cert, der))
}

/// The UTC day of a moment, as `rcgen::date_time_ymd` takes it (certificates here need no finer
/// time, and this keeps the `time` crate out of our dependencies).
fn day_of(t: SystemTime) -> (i32, u8, u8) {
    use chrono::Datelike;
    let d = chrono::DateTime::<chrono::Utc>::from(t).date_naive();
    (d.year(), d.month() as u8, d.day() as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chains_are_as_the_scenarios_need() {
        let pki = Pki::generate("mail.demo.test").unwrap();
        assert_eq!(pki.good.chain.len(), 2);
        assert_eq!(
            pki.incomplete.chain.len(),
            1,
            "the intermediate is left out"
        );
        assert!(pki.root_pem.starts_with("-----BEGIN CERTIFICATE-----"));
    }
}
