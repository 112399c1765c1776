//! A provider that accepts connections and then says nothing takes only its host's share of the
//! check slots: the other hosts are checked on time, and once it goes away the agent's file
//! descriptors come back down. Black-box through the binary, in bounded real time.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod support;

use support::{free_port, http, value, wait_until, BIN};

/// Accepts and holds every connection, silent, until `stop`; then closes them all.
fn silent_listener(stop: Arc<AtomicBool>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        // Dropping the listener and the streams: the port is closed from now on.
    });
    port
}

/// Greets every connection as an SMTP server would, on 127.0.0.2.
fn greeter() -> u16 {
    let listener = TcpListener::bind("127.0.0.2:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let _ = s.write_all(b"220 ok.test ESMTP\r\n");
        }
    });
    port
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn a_silent_provider_does_not_starve_other_hosts_and_lets_go_of_its_sockets() {
    let stop = Arc::new(AtomicBool::new(false));
    let hung = silent_listener(stop.clone());
    let healthy = greeter();
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = "global: {every: 5s, timeout: 2s, concurrency: 32}\ntargets:\n".to_string();
    for i in 0..300 {
        yaml.push_str(&format!(
            "  - {{name: hung{i}, protocol: smtp, host: 127.0.0.1, port: {hung}, tls: none, probes: [port]}}\n"
        ));
    }
    for i in 0..5 {
        yaml.push_str(&format!(
            "  - {{name: ok{i}, protocol: smtp, host: 127.0.0.2, port: {healthy}, tls: none, probes: [port]}}\n"
        ));
    }
    let config = dir.path().join("mailbeat.yaml");
    std::fs::write(&config, yaml).unwrap();
    let listen = free_port();
    let mut child = std::process::Command::new(BIN)
        .args([
            "run",
            "--web.listen-address",
            &format!("127.0.0.1:{listen}"),
        ])
        .arg("--config.file")
        .arg(&config)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let up = wait_until(Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", listen)).is_ok()
    });
    assert!(up, "the agent listens");

    // 18 s of schedule: the start-up round within 5 s, then a slot every 5 s.
    let peak = Mutex::new(0usize);
    let _ = wait_until(Duration::from_secs(18), || {
        let n = open_fds(pid);
        let mut p = peak.lock().unwrap();
        *p = (*p).max(n);
        false
    });
    let metrics = http(listen, "GET", "/metrics").1;
    for i in 0..5 {
        let ok_runs = value(
            &metrics,
            &format!("mailbeat_probe_runs_total{{target=\"ok{i}\",probe=\"port\",status=\"ok\"}}"),
        )
        .unwrap_or(0.0);
        // Start-up run plus one per 5 s slot since: three at least in 18 s.
        assert!(ok_runs >= 3.0, "ok{i} ran {ok_runs} times:\n{metrics}");
    }
    let peak = *peak.lock().unwrap();

    // The provider goes away: the checks holding its sockets time out, the next ones are refused.
    stop.store(true, Ordering::SeqCst);
    let mut after = usize::MAX;
    let settled = wait_until(Duration::from_secs(10), || {
        after = open_fds(pid);
        after + 8 <= peak
    });
    let _ = child.kill();
    let _ = child.wait();
    eprintln!("open descriptors: peak {peak}, after {after}");
    assert!(
        settled,
        "file descriptors stayed up: peak {peak}, after {after}"
    );
    // The hung host held at most its share (32 / 4 = 8) of sockets at a time.
    assert!(peak <= 8 + 5 + 30, "peak of {peak} open descriptors");
}
