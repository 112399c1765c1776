#!/usr/bin/env python3
"""TLS / STARTTLS CPU per check, four ways side by side in one run (issues #3 and #12):

- blackbox_exporter `/probe` and mailbeat `/probe`: for each (exporter, target) cell N requests
  from C concurrent keep-alive HTTP clients (asyncio, stdlib only); the exporter's process CPU time
  (utime+stime from /proc/PID/stat, all threads) over the batch, divided by N. Every response is
  checked for `probe_success 1`.
- mailbeat scheduled: a second agent with BENCH_SCHED_TARGETS `tls` targets on the same server,
  `every: BENCH_SCHED_EVERY`, measured over BENCH_SCHED_SECONDS after its start-up runs: its CPU
  time divided by the checks it ran (`mailbeat_probe_runs_total` from its /metrics), so scheduling,
  storing and series upkeep are in the figure.
- the floor: `tls-floor` (bench/tls-floor), a bare rustls client doing the same dialogue with the
  same verified handshake and nothing else, N checks on C threads; its own CPU per check. Twice:
  back to back (the floor of `/probe` under load), and paced at the scheduled agent's rate (the
  floor of scheduled checks: a check that starts after the host did other work finds its caches
  cold, and the same handshake then costs more CPU in any client).
- paired: the scheduled agent again, with the paced floor running in the same seconds (threads of
  another process, at the same rate): the ratio of the two is free of the machine's drift between
  one measurement and the next, which moves the sequential ratio by up to ±0.15 from round to round.

All against the same loopback Dovecot/Postfix of the test harness (tests/harness/start.sh). Rounds
alternate the order of the cells.

    cargo build --release -p mailbeat -p tls-floor
    source /tmp/mbh/env.sh                  # harness ports and CA (or MAILBEAT_HARNESS_DIR=/tmp/mbh)
    python3 bench/tls_cpu.py                # N=2000, C=20, 3 rounds (about 14 minutes)

Env: BENCH_N, BENCH_C, BENCH_ROUNDS, BENCH_WARMUP (probes per cell before round 1, default 100),
BENCH_SCHED_TARGETS (500), BENCH_SCHED_EVERY (5s), BENCH_SCHED_SECONDS (20),
BENCH_KEEP=1 (print the temp dir and keep it), BENCH_BLACKBOX (binary name), BENCH_MAILBEAT (binary
path, to compare builds), CARGO_TARGET_DIR
(where the release binaries are; default target/ of the repository).
"""
import asyncio, collections, os, re, shutil, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
RELEASE = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(HERE, "..", "target")), "release")
BIN = os.environ.get("BENCH_MAILBEAT", os.path.join(RELEASE, "mailbeat"))
FLOOR = os.path.join(RELEASE, "tls-floor")
BLACKBOX = os.environ.get("BENCH_BLACKBOX", "prometheus-blackbox-exporter")
N = int(os.environ.get("BENCH_N", "2000"))
C = int(os.environ.get("BENCH_C", "20"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "100"))
TICKS = os.sysconf("SC_CLK_TCK")
SCHED_TARGETS = int(os.environ.get("BENCH_SCHED_TARGETS", "500"))
SCHED_EVERY = os.environ.get("BENCH_SCHED_EVERY", "5s")
SCHED_SECONDS = float(os.environ.get("BENCH_SCHED_SECONDS", "20"))
# The scheduled agent's pace: its targets over its interval ("5s", "1m").
SCHED_RATE = SCHED_TARGETS / (float(SCHED_EVERY[:-1]) * (60 if SCHED_EVERY.endswith("m") else 1))


def harness_env():
    """Ports and CA from the environment, else from $MAILBEAT_HARNESS_DIR/env.sh (default /tmp/mbh)."""
    env = dict(os.environ)
    path = os.path.join(env.get("MAILBEAT_HARNESS_DIR", "/tmp/mbh"), "env.sh")
    if "MAILBEAT_TEST_CA" not in env and os.path.exists(path):
        for m in re.finditer(r"^export (\w+)='([^']*)'", open(path).read(), re.M):
            env.setdefault(m.group(1), m.group(2))
    return env


E = harness_env()
CA = E["MAILBEAT_TEST_CA"]
NAME = E.get("MAILBEAT_TEST_SERVER_NAME", "mail.test")
IMAPS = int(E.get("MAILBEAT_A_IMAPS_PORT", "10993"))
IMAP = int(E.get("MAILBEAT_A_IMAP_PORT", "10143"))
SUBM = int(E.get("MAILBEAT_POSTFIX_SUBMISSION_PORT", "10587"))

# mailbeat targets: name -> (protocol, port, tls mode, probe spec)
MB_TARGETS = {
    "imaps": ("imap", IMAPS, "implicit", "tls"),  # handshake + greeting + LOGOUT (default)
    "imaps-handshake": ("imap", IMAPS, "implicit", "{tls: {check_service: false}}"),
    "imap-starttls": ("imap", IMAP, "starttls", "tls"),
    "smtp-starttls": ("smtp", SUBM, "starttls", "tls"),
}

BLACKBOX_YML = """\
# blackbox_exporter modules equivalent to mailbeat's `tls` probe (bench/tls_cpu.py writes this).
modules:
  # TLS handshake only, verified against the harness root CA (the issue's pairing for IMAPS)
  tls_connect:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      tls: true
      tls_config: {{ca_file: "{ca}", server_name: "{name}"}}
  # same + the IMAP dialogue mailbeat's tls probe does on implicit TLS (greeting, LOGOUT)
  imaps_tls:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      tls: true
      tls_config: {{ca_file: "{ca}", server_name: "{name}"}}
      query_response:
        - expect: "^\\\\* OK"
        - send: "a1 LOGOUT"
  # IMAP STARTTLS, same dialogue as mailbeat: greeting, CAPABILITY, STARTTLS, CAPABILITY, LOGOUT
  imap_starttls:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      tls_config: {{ca_file: "{ca}", server_name: "{name}"}}
      query_response:
        - expect: "^\\\\* OK"
        - send: "a0 CAPABILITY"
        - expect: "^a0 OK"
        - send: "a1 STARTTLS"
        - expect: "^a1 OK"
        - starttls: true
        - send: "a2 CAPABILITY"
        - expect: "^a2 OK"
        - send: "a3 LOGOUT"
  # SMTP submission STARTTLS, same dialogue as mailbeat: greeting, EHLO, STARTTLS, EHLO, QUIT
  smtp_starttls:
    prober: tcp
    timeout: 5s
    tcp:
      preferred_ip_protocol: ip4
      tls_config: {{ca_file: "{ca}", server_name: "{name}"}}
      query_response:
        - expect: "^220 "
        - send: "EHLO prober.test"
        - expect: "^250 "
        - send: "STARTTLS"
        - expect: "^220 "
        - starttls: true
        - send: "EHLO prober.test"
        - expect: "^250 "
        - send: "QUIT"
"""

# (label, mailbeat target, blackbox target, blackbox module). Ratio = mailbeat / blackbox.
PAIRS = [
    ("IMAPS TLS: mailbeat tls (default) vs tls_connect", "imaps", f"127.0.0.1:{IMAPS}", "tls_connect"),
    ("IMAPS TLS, equal work: greeting+LOGOUT both", "imaps", f"127.0.0.1:{IMAPS}", "imaps_tls"),
    ("IMAPS TLS, handshake only both (check_service: false)", "imaps-handshake", f"127.0.0.1:{IMAPS}", "tls_connect"),
    ("IMAP STARTTLS (10143)", "imap-starttls", f"127.0.0.1:{IMAP}", "imap_starttls"),
    ("SMTP STARTTLS (Postfix 10587)", "smtp-starttls", f"127.0.0.1:{SUBM}", "smtp_starttls"),
]


# The floor comparison (issue #12): the same check four ways. (label, mailbeat target, tls-floor
# arguments, blackbox target, blackbox module with the same dialogue).
FLOOR_ROWS = [
    ("IMAPS: handshake, greeting, LOGOUT", "imaps", ["--addr", f"127.0.0.1:{IMAPS}"],
     f"127.0.0.1:{IMAPS}", "imaps_tls"),
    ("IMAP STARTTLS (10143)", "imap-starttls", ["--addr", f"127.0.0.1:{IMAP}", "--starttls", "imap"],
     f"127.0.0.1:{IMAP}", "imap_starttls"),
    ("SMTP STARTTLS (Postfix 10587)", "smtp-starttls", ["--addr", f"127.0.0.1:{SUBM}", "--starttls", "smtp"],
     f"127.0.0.1:{SUBM}", "smtp_starttls"),
]
GOAL_SCHED, GOAL_PROBE = 1.3, 1.5


def target_line(name, proto, port, mode, probe):
    return (f"  - {{name: {name}, protocol: {proto}, host: 127.0.0.1, port: {port}, tls: {mode}, "
            f"tls_server_name: {NAME}, ca_file: \"{CA}\", probes: [{probe}]}}\n")


def measure_floor(args, n, c, rate=None):
    """Runs tls-floor: n checks on c threads (started at `rate` per second if given); its own CPU
    per check."""
    pace = ["--rate", str(rate)] if rate else []
    out = subprocess.run([FLOOR, "--ca", CA, "--name", NAME, "--n", str(n), "--c", str(c),
                          "--warmup", str(min(WARMUP, n))] + pace + args,
                         capture_output=True, text=True, timeout=600)
    kv = dict(x.split("=", 1) for x in out.stdout.split() if "=" in x)
    if out.returncode != 0 or "cpu_ms_per_check" not in kv:
        return {"cpu_ms": float("nan"), "rate": 0.0, "ok": int(kv.get("ok", 0)), "bad": [out.stderr[-500:]]}
    return {"cpu_ms": float(kv["cpu_ms_per_check"]), "rate": float(kv["checks_per_s"]),
            "ok": int(kv["ok"]), "bad": [out.stderr[-500:]] if out.stderr else []}


def runs_by_status(port):
    """Sum of mailbeat_probe_runs_total{probe="tls"} by status, from the agent's /metrics."""
    body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    runs = {}
    for m in re.finditer(r'^mailbeat_probe_runs_total\{([^}]*)\} (\S+)$', body, re.M):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if labels.get("probe") == "tls":
            runs[labels["status"]] = runs.get(labels["status"], 0) + float(m.group(2))
    return runs


def measure_scheduled(tmp, mt, alongside=None):
    """A fresh agent with SCHED_TARGETS copies of target `mt` on `every: SCHED_EVERY`: its CPU per
    scheduled check over SCHED_SECONDS, after its start-up runs (spread over 10 s) and a warm-up.
    With `alongside` (tls-floor arguments), the paced floor runs in the same seconds, so both see
    the same state of the machine; its figures are under "floor"."""
    proto, port, mode, probe = MB_TARGETS[mt]
    d = os.path.join(tmp, f"sched-{mt}")
    os.makedirs(d, exist_ok=True)
    cfg = os.path.join(d, "mailbeat.yaml")
    with open(cfg, "w") as f:
        f.write(f"global:\n  every: {SCHED_EVERY}\n  timeout: 10s\n  concurrency: 64\n  ehlo_name: prober.test\n"
                f"  state_dir: {d}/data\ntargets:\n")
        for i in range(SCHED_TARGETS):
            f.write(target_line(f"{mt}-{i}", proto, port, mode, probe))
    hport = free_port()
    log = open(os.path.join(d, "mailbeat.log"), "w")
    p = subprocess.Popen([BIN, "run", "--config.file", cfg, "--web.listen-address", f"127.0.0.1:{hport}",
                          "--log.level", "warn"], stdout=log, stderr=log)
    try:
        wait_healthy(f"http://127.0.0.1:{hport}/-/healthy", p, "mailbeat (scheduled)")
        time.sleep(12)  # the start-up runs, spread over the first 10 s, and a few regular ones
        floor = {}
        if alongside is not None:
            # The floor's warm-up (WARMUP checks, paced) runs before the window; its measured
            # checks take SCHED_SECONDS at the same rate, in the agent's window.
            n_floor = int(SCHED_RATE * SCHED_SECONDS)
            th = threading.Thread(target=lambda: floor.update(measure_floor(alongside, n_floor, C, SCHED_RATE)))
            th.start()
            time.sleep(min(WARMUP, n_floor) / SCHED_RATE)
        r0, cpu0, (b0, t0), w0 = runs_by_status(hport), cpu_seconds(p.pid), host_busy(), time.perf_counter()
        time.sleep(SCHED_SECONDS)
        # CPU first: the scrape that counts the runs is not part of the checks it counts.
        cpu1, (b1, t1), w1 = cpu_seconds(p.pid), host_busy(), time.perf_counter()
        r1 = runs_by_status(hport)
        if alongside is not None:
            th.join()
        n = sum(r1.values()) - sum(r0.values())
        ok = (r1.get("ok", 0) - r0.get("ok", 0)) + (r1.get("warning", 0) - r0.get("warning", 0))
        bad = [f"{k}: {r1.get(k, 0) - r0.get(k, 0):.0f}" for k in r1 if k not in ("ok", "warning")
               and r1.get(k, 0) != r0.get(k, 0)]
        if bad:  # why, from the agent's "check failed" lines (reason=...)
            log.flush()
            reasons = re.findall(r"check failed .*? reason=(\S+)", open(log.name).read())
            bad.append(f"reasons in the log (whole run): {dict(collections.Counter(reasons))}")
        return {"cpu_ms": (cpu1 - cpu0) / max(n, 1) * 1000, "rate": n / (w1 - w0), "n": int(n), "ok": int(ok),
                "bad": bad, "host_busy": (b1 - b0) / max(t1 - t0, 1) * 100, "rss": rss_mib(p.pid),
                "floor": floor or None}
    finally:
        p.terminate()
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_seconds(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICKS


def host_busy():
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    v = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def rss_mib(pid, key="VmRSS"):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return 0.0


def wait_healthy(url, proc, what):
    for _ in range(400):
        if proc.poll() is not None:
            sys.exit(f"{what} exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except Exception:
            time.sleep(0.05)
    sys.exit(f"{what} did not become healthy at {url}")


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for l in lines[1:]:
        if ":" in l:
            k, v = l.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    else:
        body = await reader.read()
    return status, headers, body


async def load(port, path, n, c):
    """n GET requests over c keep-alive connections; returns (wall s, latencies, ok count, bad bodies)."""
    req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUser-Agent: tls_cpu.py\r\n\r\n".encode()
    remaining = [n]
    lat, ok, bad = [], [0], []

    async def worker():
        reader = writer = None
        while remaining[0] > 0:
            remaining[0] -= 1
            for attempt in range(2):
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    t = time.perf_counter()
                    writer.write(req)
                    status, headers, body = await read_response(reader)
                    lat.append(time.perf_counter() - t)
                    if headers.get("connection", "").lower() == "close":
                        writer.close()
                        writer = None
                    break
                except (asyncio.IncompleteReadError, ConnectionError):
                    writer = None  # server closed an idle keep-alive connection: reconnect once
                    if attempt:
                        raise
            if status == 200 and re.search(rb"^probe_success 1(\.0)?$", body, re.M):
                ok[0] += 1
            elif len(bad) < 3:
                bad.append(body.decode(errors="replace")[:1500])
        if writer is not None:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(c)))
    return time.perf_counter() - t0, lat, ok[0], bad


def measure(proc, port, path, n, c):
    cpu0, (b0, t0) = cpu_seconds(proc.pid), host_busy()
    wall, lat, ok, bad = asyncio.run(load(port, path, n, c))
    cpu1, (b1, t1) = cpu_seconds(proc.pid), host_busy()
    lat.sort()
    return {
        "cpu_ms": (cpu1 - cpu0) / n * 1000,
        "rate": n / wall,
        "p50": lat[len(lat) // 2] * 1000,
        "p99": lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
        "ok": ok,
        "bad": bad,
        "host_busy": (b1 - b0) / max(t1 - t0, 1) * 100,
        "rss": rss_mib(proc.pid),
    }


def med_range(xs, fmt="{:.2f}"):
    return f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"


def main():
    for b in (BIN, FLOOR):
        if not os.path.exists(b):
            sys.exit(f"{b} missing: cargo build --release -p mailbeat -p tls-floor")
    tmp = tempfile.mkdtemp(prefix="mailbeat-tlscpu-")
    cfg = os.path.join(tmp, "mailbeat.yaml")
    with open(cfg, "w") as f:
        f.write(f"global:\n  every: 24h\n  timeout: 10s\n  concurrency: 64\n  ehlo_name: prober.test\n"
                f"  state_dir: {tmp}/data\ntargets:\n")
        for name, (proto, port, mode, probe) in MB_TARGETS.items():
            f.write(target_line(name, proto, port, mode, probe))
    bbcfg = os.path.join(HERE, "blackbox.yml")
    with open(bbcfg, "w") as f:
        f.write(BLACKBOX_YML.format(ca=CA, name=NAME))
    subprocess.run([BLACKBOX, f"--config.file={bbcfg}", "--config.check"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    mport, bport = free_port(), free_port()
    log_m = open(os.path.join(tmp, "mailbeat.log"), "w")
    log_b = open(os.path.join(tmp, "blackbox.log"), "w")
    mb = subprocess.Popen([BIN, "run", "--config.file", cfg, "--web.listen-address", f"127.0.0.1:{mport}",
                           "--log.level", "warn"], stdout=log_m, stderr=log_m)
    bb = subprocess.Popen([BLACKBOX, f"--config.file={bbcfg}", f"--web.listen-address=127.0.0.1:{bport}",
                           "--log.level=warn"], stdout=log_b, stderr=log_b)
    try:
        wait_healthy(f"http://127.0.0.1:{mport}/-/healthy", mb, "mailbeat")
        wait_healthy(f"http://127.0.0.1:{bport}/-/healthy", bb, "blackbox_exporter")
        time.sleep(11)  # let mailbeat's start-up run of each scheduled check (within 10 s) pass
        print(f"mailbeat pid {mb.pid} :{mport}, blackbox_exporter pid {bb.pid} :{bport}; "
              f"N={N} C={C} rounds={ROUNDS}; loadavg {open('/proc/loadavg').read().split()[:3]}", flush=True)

        cells = {}
        for _, mt, bt, mod in PAIRS:
            cells[("mailbeat", mt)] = (mb, mport, f"/probe?target={mt}")
            cells[("blackbox", mod + "@" + bt)] = (bb, bport, f"/probe?target={bt}&module={mod}")
        # Warm-up (not measured): first handshakes, Go GC sizing, allocator pools.
        for key, (proc, port, path) in cells.items():
            r = measure(proc, port, path, WARMUP, C)
            if r["ok"] != WARMUP:
                sys.exit(f"warm-up {key}: only {r['ok']}/{WARMUP} probe_success 1; e.g.:\n{r['bad'][:1]}")

        results = {k: [] for k in cells}
        ratios = {p[0]: [] for p in PAIRS}
        extra = {(kind, row[1]): [] for row in FLOOR_ROWS for kind in ("floor", "floor-paced", "scheduled", "paired")}
        for rnd in range(ROUNDS):
            done = {}
            for label, mt, bt, mod in PAIRS:
                keys = [("mailbeat", mt), ("blackbox", mod + "@" + bt)]
                if rnd % 2:
                    keys.reverse()
                for key in keys:
                    if key not in done:  # a cell shared by two pairs is measured once per round
                        proc, port, path = cells[key]
                        r = measure(proc, port, path, N, C)
                        done[key] = r
                        results[key].append(r)
                        flag = "" if r["ok"] == N else f"  FAILED {N - r['ok']}: {r['bad'][:1]}"
                        print(f"round {rnd + 1} {key[0]:8} {key[1]:28} cpu {r['cpu_ms']:.3f} ms/probe  "
                              f"{r['rate']:.0f}/s  p50 {r['p50']:.1f} ms  p99 {r['p99']:.1f} ms  "
                              f"ok {r['ok']}/{N}  host busy {r['host_busy']:.0f}%  rss {r['rss']:.0f} MiB{flag}",
                              flush=True)
                ratios[label].append(done[("mailbeat", mt)]["cpu_ms"] / done[("blackbox", mod + "@" + bt)]["cpu_ms"])
            rows = FLOOR_ROWS if rnd % 2 == 0 else FLOOR_ROWS[::-1]
            for label, mt, fargs, _, _ in rows:
                kinds = ["floor", "floor-paced", "scheduled", "paired"]
                for kind in (kinds if rnd % 2 == 0 else kinds[::-1]):
                    if kind == "paired":
                        # The scheduled agent and the paced floor in the same seconds.
                        r = measure_scheduled(tmp, mt, alongside=fargs)
                        n, f_ = r["n"], r["floor"]
                        r["ratio"] = r["cpu_ms"] / f_["cpu_ms"] if f_ and f_["cpu_ms"] > 0 else float("nan")
                        extra[(kind, mt)].append(r)
                        ff = "" if f_ and f_["ok"] == int(SCHED_RATE * SCHED_SECONDS) else f"  FLOOR FAILED: {f_}"
                        print(f"round {rnd + 1} {kind:11} {mt:26} cpu {r['cpu_ms']:.3f} ms/check, floor alongside "
                              f"{f_['cpu_ms'] if f_ else float('nan'):.3f} ms/check: {r['ratio']:.2f}×  "
                              f"ok {r['ok']}/{n}{ff}", flush=True)
                        continue
                    if kind == "floor":
                        r = measure_floor(fargs, N, C)
                        n = N
                    elif kind == "floor-paced":
                        n = int(SCHED_RATE * SCHED_SECONDS)
                        r = measure_floor(fargs, n, C, SCHED_RATE)
                    else:
                        r = measure_scheduled(tmp, mt)
                        n = r["n"]
                    extra[(kind, mt)].append(r)
                    flag = "" if r["ok"] == n else f"  FAILED {n - r['ok']}: {r['bad'][:2]}"
                    print(f"round {rnd + 1} {kind:11} {mt:26} cpu {r['cpu_ms']:.3f} ms/check  {r['rate']:.0f}/s  "
                          f"ok {r['ok']}/{n}{flag}", flush=True)

        print(f"\nPer-probe CPU, median (min–max) of {ROUNDS} rounds × {N} probes, concurrency {C}:\n")
        print("| exporter | target / module | CPU per probe | probes/s | p50 | p99 | probe_success 1 | host CPU busy | RSS after |")
        print("|---|---|---|---|---|---|---|---|---|")
        for (exp, name), rs in results.items():
            print(f"| {exp} | {name} | {med_range([r['cpu_ms'] for r in rs], '{:.2f}')} ms "
                  f"| {med_range([r['rate'] for r in rs], '{:.0f}')} "
                  f"| {med_range([r['p50'] for r in rs], '{:.1f}')} ms "
                  f"| {med_range([r['p99'] for r in rs], '{:.0f}')} ms "
                  f"| {sum(r['ok'] for r in rs):,}/{N * len(rs):,} "
                  f"| {med_range([r['host_busy'] for r in rs], '{:.0f}')} % "
                  f"| {med_range([r['rss'] for r in rs], '{:.0f}')} MiB |")
        print("\n| comparison | mailbeat ms/probe | blackbox ms/probe | ratio mailbeat/blackbox | goal ≤ 0.33 |")
        print("|---|---|---|---|---|")
        for label, mt, bt, mod in PAIRS:
            m = [r["cpu_ms"] for r in results[("mailbeat", mt)]]
            b = [r["cpu_ms"] for r in results[("blackbox", mod + "@" + bt)]]
            q = ratios[label]
            print(f"| {label} | {statistics.median(m):.2f} | {statistics.median(b):.2f} "
                  f"| {med_range(q, '{:.2f}')} | {'met' if statistics.median(q) <= 1 / 3 else 'missed'} |")
        print(f"\nCPU per check against the floor (bare rustls client, same dialogue), median (min–max) of {ROUNDS} "
              f"rounds; /probe and floor {N} checks at concurrency {C}; scheduled {SCHED_TARGETS} targets every "
              f"{SCHED_EVERY} for {SCHED_SECONDS:.0f} s, and the floor paced at the same {SCHED_RATE:.0f} checks/s:\n")
        print(f"| check | floor, back to back | floor, paced | mailbeat scheduled | × paced floor (goal ≤ {GOAL_SCHED}) "
              f"| paired: scheduled / floor paced in the same seconds | × floor | mailbeat `/probe` "
              f"| × floor (goal ≤ {GOAL_PROBE}) | blackbox `/probe` | × floor |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for label, mt, _, bt, mod in FLOOR_ROWS:
            fl = [r["cpu_ms"] for r in extra[("floor", mt)]]
            fp = [r["cpu_ms"] for r in extra[("floor-paced", mt)]]
            sc = [r["cpu_ms"] for r in extra[("scheduled", mt)]]
            pr = [r["cpu_ms"] for r in results[("mailbeat", mt)]]
            bb_ = [r["cpu_ms"] for r in results[("blackbox", mod + "@" + bt)]]
            f0, p0 = statistics.median(fl), statistics.median(fp)
            x = lambda xs, base=f0: statistics.median(xs) / base
            # The same ratio round by round (scheduled and paced floor run next to each other), to
            # show how far the drift of the machine between rounds moves it.
            paired = [s_ / p_ for s_, p_ in zip(sc, fp)]
            # Both in the same 20 s: the machine's drift between measurements is out of it.
            same = [r["ratio"] for r in extra[("paired", mt)]]
            same_s = [r["cpu_ms"] for r in extra[("paired", mt)]]
            same_f = [r["floor"]["cpu_ms"] for r in extra[("paired", mt)] if r["floor"]]
            print(f"| {label} | {med_range(fl)} ms | {med_range(fp)} ms | {med_range(sc)} ms "
                  f"| {x(sc, p0):.2f} {'met' if x(sc, p0) <= GOAL_SCHED else 'missed'} "
                  f"(by round {min(paired):.2f}–{max(paired):.2f}) "
                  f"| {med_range(same)}× {'met' if statistics.median(same) <= GOAL_SCHED else 'missed'} "
                  f"({med_range(same_s)} / {med_range(same_f)} ms) | {x(sc):.2f} "
                  f"| {med_range(pr)} ms | {x(pr):.2f} {'met' if x(pr) <= GOAL_PROBE else 'missed'} "
                  f"| {med_range(bb_)} ms | {x(bb_):.2f} |")
        sc_ok = sum(r["ok"] for k, rs in extra.items() if k[0] in ("scheduled", "paired") for r in rs)
        sc_n = sum(r["n"] for k, rs in extra.items() if k[0] in ("scheduled", "paired") for r in rs)
        fl_ok = sum(r["ok"] for k, rs in extra.items() if k[0].startswith("floor") for r in rs)
        fl_ok += sum(r["floor"]["ok"] for k, rs in extra.items() if k[0] == "paired" for r in rs if r["floor"])
        fl_n = (N + 2 * int(SCHED_RATE * SCHED_SECONDS)) * ROUNDS * len(FLOOR_ROWS)
        print(f"\nscheduled checks ok/warning {sc_ok:,}/{sc_n:,}; floor checks ok {fl_ok:,}/{fl_n:,}")
        print(f"\nmailbeat peak RSS {rss_mib(mb.pid, 'VmHWM'):.0f} MiB, blackbox peak RSS {rss_mib(bb.pid, 'VmHWM'):.0f} MiB; "
              f"loadavg {open('/proc/loadavg').read().split()[:3]}")
    finally:
        for p in (mb, bb):
            p.terminate()
        for p in (mb, bb):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        if os.environ.get("BENCH_KEEP"):
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
