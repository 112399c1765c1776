//! Trust anchors: the root store a target's certificates are verified against, built from the
//! webpki roots, the operating system's store (`system_roots`) and a target's `ca_file`.

use super::validator::{loc, Validator};
use super::Global;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;
use serde_saphyr::Spanned;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

impl Validator<'_> {
    /// `global.system_roots`: true when asked for, with a problem when the system store is empty.
    pub(super) fn global_system_roots(&mut self, asked: Option<&Spanned<bool>>) -> bool {
        match asked {
            Some(s) if s.value => {
                if let Err(e) = system_roots_store() {
                    self.problem(loc(s), "global.system_roots", e);
                }
                true
            }
            _ => false,
        }
    }

    /// A target's `ca_file`, read: where it is and the certificates it holds.
    pub(super) fn ca_file(
        &mut self,
        f: &Spanned<String>,
        key: &str,
    ) -> Option<(PathBuf, Vec<CertificateDer<'static>>)> {
        let path = self.path(&f.value);
        match load_ca_file(&path) {
            Ok(certs) => Some((path, certs)),
            Err(e) => {
                self.problem(loc(f), format!("{key}.ca_file"), e);
                None
            }
        }
    }

    /// A target's trust anchors: the webpki roots, the system's too when the target (or else
    /// `global`) says so, plus the certificates of its `ca_file`.
    pub(super) fn roots(
        &mut self,
        system_roots: Option<&Spanned<bool>>,
        key: &str,
        global: &Global,
        ca_certs: Option<Vec<CertificateDer<'static>>>,
    ) -> Arc<RootCertStore> {
        let system = match system_roots {
            Some(s) if s.value && !global.system_roots => match system_roots_store() {
                Ok(_) => true,
                Err(e) => {
                    self.problem(loc(s), format!("{key}.system_roots"), e);
                    false
                }
            },
            Some(s) => s.value,
            None => global.system_roots,
        };
        // Shared stores where nothing is added, so 10,000 targets do not hold 10,000 copies.
        let base = match system {
            true => system_roots_store().unwrap_or_else(|_| webpki_roots_store()),
            false => webpki_roots_store(),
        };
        match ca_certs {
            Some(certs) => {
                let mut store = (*base).clone();
                store.add_parsable_certificates(certs);
                Arc::new(store)
            }
            None => base,
        }
    }
}

/// The public web PKI roots, built once.
pub fn webpki_roots_store() -> Arc<RootCertStore> {
    static STORE: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    STORE
        .get_or_init(|| {
            Arc::new(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })
        })
        .clone()
}

/// The public web PKI roots and the operating system's trust store (as `openssl` finds it, and
/// `SSL_CERT_FILE` / `SSL_CERT_DIR` override), read once.
pub fn system_roots_store() -> Result<Arc<RootCertStore>, String> {
    static STORE: OnceLock<Result<Arc<RootCertStore>, String>> = OnceLock::new();
    STORE
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut store = (*webpki_roots_store()).clone();
            let (added, _) = store.add_parsable_certificates(found.certs);
            if added == 0 {
                let why = found
                    .errors
                    .first()
                    .map(|e| format!(": {e}"))
                    .unwrap_or_default();
                return Err(format!(
                    "no certificate found in the system trust store{why} (set SSL_CERT_FILE, or use ca_file)"
                ));
            }
            Ok(Arc::new(store))
        })
        .clone()
}

/// The certificates of a PEM file; at least one.
fn load_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| match e {
        rustls::pki_types::pem::Error::Io(io) => crate::files::cannot_read("ca_file", path, &io),
        e => format!("cannot read ca_file {}: {e}", path.display()),
    })?;
    let certs: Vec<_> = iter
        .collect::<Result<_, _>>()
        .map_err(|e| format!("CA file {} is not valid PEM: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("CA file {} holds no certificate", path.display()));
    }
    Ok(certs)
}
