//! The floor of a verified TLS check, for `bench/tls_cpu.py`: a bare rustls client (ring, the
//! provider mailbeat uses) that connects, does the full verified handshake (chain and
//! CertificateVerify against the given root, plus the webpki roots mailbeat also trusts), reads
//! the greeting over TLS, says LOGOUT/QUIT and closes. Nothing else: no async runtime, no
//! certificate facts, no result. What any verifying client must spend is what this spends.
//!
//! ```text
//! tls-floor --ca ROOT.pem --name mail.test --addr 127.0.0.1:10993 [--n 2000] [--c 20]
//!           [--starttls imap|smtp] [--rate PER_SECOND]
//! ```
//!
//! With `--rate`, checks start at that pace (spread evenly, as mailbeat's scheduler spreads its
//! targets) instead of back to back: a check that runs after the host did other work finds its
//! caches cold and costs more CPU than one in a tight loop, so mailbeat's scheduled checks are
//! compared with the floor at the same pace too.
//!
//! It prints one line of `key=value` pairs; `cpu_ms_per_check` is this process's user + system
//! CPU time (all threads, `/proc/self/stat`) over the measured batch divided by its size.
#![forbid(unsafe_code)]

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run, from the command line.
struct Args {
    ca: String,
    name: String,
    addr: String,
    n: usize,
    c: usize,
    warmup: usize,
    starttls: Option<String>,
    /// Checks started per second (`None`: back to back).
    rate: Option<f64>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        ca: String::new(),
        name: "mail.test".into(),
        addr: "127.0.0.1:10993".into(),
        n: 2000,
        c: 20,
        warmup: 100,
        starttls: None,
        rate: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = || value.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--ca" => a.ca = value.clone(),
            "--name" => a.name = value.clone(),
            "--addr" => a.addr = value.clone(),
            "--n" => a.n = number()?,
            "--c" => a.c = number()?.max(1),
            "--warmup" => a.warmup = number()?,
            "--starttls" => a.starttls = Some(value.clone()),
            "--rate" => {
                let r = value.parse::<f64>().map_err(|e| format!("{flag}: {e}"))?;
                if !(r > 0.0 && r.is_finite()) {
                    return Err(format!("{flag}: a rate above 0"));
                }
                a.rate = Some(r);
            }
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if a.ca.is_empty() {
        return Err("--ca ROOT.pem is required".into());
    }
    Ok(a)
}

/// The client configuration mailbeat's `tls` probe has: ring, TLS 1.2/1.3, webpki roots plus
/// the target's CA, no session resumption (every check is a full handshake).
fn config(ca: &str) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let pem = std::fs::read(ca).map_err(|e| format!("{ca}: {e}"))?;
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| format!("{ca}: {e}"))?;
        roots.add(cert).map_err(|e| format!("{ca}: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    Ok(Arc::new(config))
}

/// Reads one reply: a line, or for SMTP the lines up to the one with a space after the code.
fn read_reply<R: BufRead>(r: &mut R, smtp: bool, line: &mut String) -> Result<(), String> {
    loop {
        line.clear();
        if r.read_line(line).map_err(|e| e.to_string())? == 0 {
            return Err("connection closed".into());
        }
        if !smtp || line.as_bytes().get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}

/// One check: connect, (STARTTLS), handshake, greeting or capabilities over TLS, goodbye.
fn check(a: &Args, config: &Arc<ClientConfig>, name: &ServerName<'static>) -> Result<(), String> {
    let tcp = TcpStream::connect(&a.addr).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut line = String::new();
    let smtp = a.starttls.as_deref() == Some("smtp");
    let tcp = match a.starttls.as_deref() {
        None => tcp,
        Some(proto) => {
            let mut r = BufReader::new(tcp);
            read_reply(&mut r, smtp, &mut line)?;
            let cmds: &[&[u8]] = if smtp {
                &[b"EHLO prober.test\r\n", b"STARTTLS\r\n"]
            } else if proto == "imap" {
                &[b"a0 CAPABILITY\r\n", b"a1 STARTTLS\r\n"]
            } else {
                return Err(format!("--starttls {proto}: imap or smtp"));
            };
            for cmd in cmds {
                r.get_mut().write_all(cmd).map_err(|e| e.to_string())?;
                read_reply(&mut r, smtp, &mut line)?;
                // IMAP CAPABILITY answers with an untagged line, then the tagged OK.
                while !smtp && line.starts_with('*') {
                    read_reply(&mut r, smtp, &mut line)?;
                }
            }
            r.into_inner()
        }
    };
    let conn = ClientConnection::new(config.clone(), name.clone()).map_err(|e| e.to_string())?;
    let mut tls = BufReader::new(StreamOwned::new(conn, tcp));
    match a.starttls.as_deref() {
        None => read_reply(&mut tls, smtp, &mut line)?,
        Some(_) => {
            let cmd: &[u8] = if smtp {
                b"EHLO prober.test\r\n"
            } else {
                b"a2 CAPABILITY\r\n"
            };
            tls.get_mut().write_all(cmd).map_err(|e| e.to_string())?;
            read_reply(&mut tls, smtp, &mut line)?;
            while !smtp && line.starts_with('*') {
                read_reply(&mut tls, smtp, &mut line)?;
            }
        }
    }
    // LOGOUT/QUIT and close without waiting for the answer, as mailbeat's goodbye does.
    let bye: &[u8] = if smtp { b"QUIT\r\n" } else { b"z1 LOGOUT\r\n" };
    let s = tls.get_mut();
    s.write_all(bye).map_err(|e| e.to_string())?;
    s.flush().map_err(|e| e.to_string())?;
    Ok(())
}

/// This process's user + system CPU seconds so far (all threads).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat(5), 11 and 12 after the command name.
    // Clock ticks are 100 per second on Linux (USER_HZ).
    (ticks(11) + ticks(12)) / 100.0
}

/// Runs `n` checks on `c` threads; returns (failures, first error).
fn batch(a: &Arc<Args>, config: &Arc<ClientConfig>, n: usize) -> (usize, Option<String>) {
    let name = ServerName::try_from(a.name.clone()).expect("valid server name");
    let left = Arc::new(AtomicUsize::new(n));
    let start = Instant::now();
    let workers: Vec<_> = (0..a.c)
        .map(|_| {
            let (a, config, name, left) = (a.clone(), config.clone(), name.clone(), left.clone());
            std::thread::spawn(move || {
                let (mut failed, mut first) = (0, None);
                while let Ok(before) =
                    left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
                {
                    if let Some(rate) = a.rate {
                        // Check number i starts i / rate seconds after the batch.
                        let due = start + Duration::from_secs_f64((n - before) as f64 / rate);
                        std::thread::sleep(due.saturating_duration_since(Instant::now()));
                    }
                    if let Err(e) = check(&a, &config, &name) {
                        failed += 1;
                        first.get_or_insert(e);
                    }
                }
                (failed, first)
            })
        })
        .collect();
    workers
        .into_iter()
        .map(|w| w.join().unwrap_or((1, Some("worker panicked".into()))))
        .fold((0, None), |(f, e), (f2, e2)| (f + f2, e.or(e2)))
}

fn main() {
    let a = match parse_args() {
        Ok(a) => Arc::new(a),
        Err(e) => {
            eprintln!("tls-floor: {e}");
            std::process::exit(2);
        }
    };
    let config = match config(&a.ca) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tls-floor: {e}");
            std::process::exit(2);
        }
    };
    let (failed, err) = batch(&a, &config, a.warmup);
    if failed > 0 {
        eprintln!("tls-floor: warm-up failed {failed} times: {err:?}");
        std::process::exit(1);
    }
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let (failed, err) = batch(&a, &config, a.n);
    let (cpu1, wall) = (cpu_seconds(), t0.elapsed().as_secs_f64());
    println!(
        "n={} c={} ok={} cpu_ms_per_check={:.4} checks_per_s={:.0}",
        a.n,
        a.c,
        a.n - failed,
        (cpu1 - cpu0) / a.n as f64 * 1000.0,
        a.n as f64 / wall
    );
    if let Some(e) = err {
        eprintln!("tls-floor: {failed} failed, e.g. {e}");
        std::process::exit(1);
    }
}
