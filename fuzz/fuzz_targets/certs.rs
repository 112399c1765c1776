//! Certificate facts (`mailbeat_probes::certs::parse` and what the tls probe reads from a
//! `CertInfo`) on arbitrary bytes: what a server presents as a certificate.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common/cert_facts.rs"]
mod cert_facts;

fuzz_target!(|der: &[u8]| cert_facts::exercise(der));
