#!/usr/bin/env python3
"""Inclusive CPU share of named code paths in a `perf record -g` profile of mailbeat.

    perf script -i perf.data | python3 bench/perf_breakdown.py [--checks N] [--hz 2000]
Each sample counts once per category whose pattern matches any frame of its stack; shares are of
all samples of the process (categories overlap where noted). With --checks (the number of checks
the profile recorded, as bench/tls_profile.py prints it) each line also says the CPU per check
in microseconds: samples × (1 / hz) / checks."""
import re, sys

CATS = [
    ("ECDSA P-256 verify, chain (webpki build_chain)", r"webpki::verify_cert::ChainOptions.*check_signed_chain|build_chain_inner"),
    ("ECDSA P-256 verify, CertificateVerify (handshake sig)", r"verify_tls13_signature"),
    ("X25519 key generation + agreement", r"x25519"),
    ("SHA-2 (transcript/HKDF/fingerprints)", r"sha2|sha256_block|sha512_block"),
    ("AES-GCM record crypto", r"aes_|gcm_|aes_gcm"),
    ("rustls ClientConnection::new (incl. keygen)", r"ClientConnection::new"),
    ("per-probe ClientConfig/provider/verifier build", r"client_config_with_verifier|RecordingVerifier::new|tls::client::provider|WebPkiServerVerifierBuilder|builder_with_provider"),
    ("certs::issuer_path", r"certs::path::issuer_path"),
    ("certs::key_of_spki (trust anchor keys)", r"certs::key_of_spki"),
    ("scheduler + runner (store, alerts, events) around the check", r"mailbeat::runner::Runner::run|mailbeat::scheduler::run"),
    ("  of which store/alerts", r"ResultStore::record|AlertEngine::observe"),
    ("certs::parse (x509-parser + fingerprint)", r"certs::parse"),
    ("  of which fingerprint_sha256", r"fingerprint_sha256"),
    ("  of which Name to_string (X509Name Display)", r"X509Name.*fmt|x509name_to_string|x509_parser::x509::X509Name"),
    ("Observed::new total (parse + issuer_path + judge)", r"tls::report::Observed::new"),
    ("Observed::report + certificates_json", r"Observed::report|certificates_json"),
    ("serde_json (details)", r"serde_json"),
    ("render_probe (/probe response text)", r"metrics::render_probe"),
    ("  of which prometheus text encoder", r"prometheus::encoder"),
    ("executor complete/redact/remediation", r"Executor::complete|executor::redact|remediation"),
    ("tracing/logging", r"tracing"),
    ("hyper HTTP server (whole connection task, incl. render_probe)", r"hyper::proto::h1::dispatch"),
    ("Dialogue (greeting/CAPABILITY/EHLO/STARTTLS lines)", r"mailbeat_probes::dialogue::"),
    ("close/drop of the TLS stream (incl. kernel close)", r"drop_in_place<tokio_rustls::client::TlsStream|drop_in_place<.*BoxStream|drop_in_place<mailbeat_probes::dialogue::Dialogue"),
    ("net::connect (TCP connect incl. kernel)", r"mailbeat_probes::net::connect"),
    ("malloc/free/realloc (libc)", r"^(_int_malloc|_int_free|malloc|cfree|free|realloc|_int_realloc|malloc_consolidate|unlink_chunk|__libc_malloc|__GI___libc_malloc|__libc_free|__GI___libc_free|tcache|__rdl_alloc|__rdl_dealloc|__rdl_realloc)"),
    ("memcpy/memmove", r"memmove|memcpy"),
    ("kernel (all)", r"\[kernel"),
    ("tokio scheduler w/o task bodies (park/unpark/epoll)", r"worker::Context::park|Parker|driver::Driver|epoll_wait|futex"),
]


def arg(name, default):
    return float(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def main():
    checks, hz = arg("--checks", 0), arg("--hz", 2000)
    samples = []  # list of stack frame lists
    cur = []
    comm_ok = False
    for line in sys.stdin:
        if not line.strip():
            if cur:
                samples.append(cur)
            cur = []
            continue
        if not line.startswith(("\t", " ")):
            continue  # header line of a sample
        parts = line.strip().split(None, 1)
        if len(parts) == 2:
            sym = parts[1]
            cur.append(sym)
    if cur:
        samples.append(cur)
    total = len(samples)
    print(f"{total} samples")
    for name, pat in CATS:
        rx = re.compile(pat)
        n = 0
        for st in samples:
            if name.startswith("malloc") or name.startswith("memcpy"):
                hit = rx.search(re.sub(r"\+0x.*", "", st[0])) is not None  # self time only
            else:
                hit = any(rx.search(f) for f in st)
            n += hit
        per = f"  {n / hz / checks * 1e6:7.1f} µs/check" if checks else ""
        print(f"{n / total * 100:6.1f}%{per}  {name}")


main()
