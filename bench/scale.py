#!/usr/bin/env python3
"""Scale benchmark: scheduler lag and /metrics render time at N targets.

Starts a loopback SMTP greeter (asyncio), writes a config with N targets (port probe, `every`
interval) pointing at it, runs the release `mailbeat run`, lets it check for a while, then reads
the scheduler-lag histogram, times /metrics scrapes and reads the agent's CPU time and RSS from
/proc. Prints one Markdown table row per N.

    cargo build --release -p mailbeat
    python3 bench/scale.py 1000 10000          # defaults: every 60s, run 130s, 1 run per size
    BENCH_RUNS=3 python3 bench/scale.py 1000 10000   # 3 runs per size (interleaved) + median (min–max)

    python3 bench/scale.py --issue12           # the issue #12 table: 10,000 every 60 s and
                                               # 100,000 every 5 min, then a reload at 100,000,
                                               # then the outage below (about 15 minutes)
    python3 bench/scale.py --outage            # 100,000 targets at a closed port: every one
                                               # alerts, pending then firing (about 3 minutes)

Env: BENCH_EVERY (s), BENCH_DURATION (s), BENCH_RUNS, BENCH_LISTENERS (loopback greeter ports the
targets are spread over, default 16), MAILBEAT_BIN (default: $CARGO_TARGET_DIR or target/,
release/mailbeat).

Every target is 127.0.0.1, so the config sets `per_host_concurrency` to `concurrency`: with the
default (a quarter) the bench would measure the per-host limit rather than the agent. Targets
differ by name; host:port repeats over BENCH_LISTENERS ports. "checks ok" counts runs that ended ok: a broken
greeter would make every check a cheap failure, so a run where it is not 100 % is not comparable.
Lag quantiles are the upper bound of the histogram bucket that holds them (the agent's buckets).
"""
import asyncio, os, re, shutil, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request

BIN = os.environ.get("MAILBEAT_BIN") or os.path.join(
    os.environ.get("CARGO_TARGET_DIR") or os.path.join(os.path.dirname(__file__), "..", "target"),
    "release", "mailbeat")
LISTENERS = int(os.environ.get("BENCH_LISTENERS", "16"))
EVERY = int(os.environ.get("BENCH_EVERY", "60"))
DURATION = int(os.environ.get("BENCH_DURATION", "130"))
RUNS = int(os.environ.get("BENCH_RUNS", "1"))


def greeter(count=1):
    """Loopback servers that greet and close, on `count` ports, in one thread; returns the ports."""
    ready = threading.Event()
    port = []

    async def handle(reader, writer):
        writer.write(b"220 bench.example ESMTP\r\n")
        await writer.drain()
        writer.close()

    async def main():
        servers = []
        for _ in range(count):
            server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
            port.append(server.sockets[0].getsockname()[1])
            servers.append(server)
        ready.set()
        await asyncio.gather(*(s.serve_forever() for s in servers))

    threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()
    ready.wait()
    return port


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def get(url):
    with urllib.request.urlopen(url, timeout=60) as r:
        return r.read().decode()


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0.0


def lag_buckets(metrics):
    return [(float(m.group(1)), float(m.group(2))) for m in
            re.finditer(r'mailbeat_scheduler_lag_seconds_bucket\{le="([^"]+)"\} (\S+)', metrics)]


def lag_quantile(metrics, q, since=None):
    """q-quantile of the lag histogram, of the observations after `since` (an earlier scrape)."""
    buckets = lag_buckets(metrics)
    if since is not None:
        before = dict(lag_buckets(since))
        buckets = [(le, c - before.get(le, 0)) for le, c in buckets]
    total = buckets[-1][1] if buckets else 0
    for le, count in buckets:
        if total and count >= q * total:
            return le, total
    return float("nan"), total


def scalar(metrics, name):
    return float((re.findall(rf'^{name} (\S+)', metrics, re.M) or ["nan"])[0])


def runs_total(metrics):
    return sum(float(v) for v in re.findall(r'^mailbeat_probe_runs_total\{[^}]*\} (\S+)', metrics, re.M))


def write_config(path, n, ports, every, comment=""):
    with open(path, "w") as f:
        f.write(f"# {comment}\nglobal:\n  every: {every}s\n  timeout: 10s\n  concurrency: 256\n"
                f"  per_host_concurrency: 256\ntargets:\n")
        for i in range(n):
            f.write(f"  - {{name: t{i:06d}, protocol: smtp, host: 127.0.0.1, port: {ports[i % len(ports)]}, "
                    f"tls: none, probes: [port]}}\n")


def wait_healthy(agent, port, cfg):
    """Waits (at most 120 s) for the agent to answer /-/healthy; exits if it dies or does not."""
    for _ in range(2400):
        try:
            get(f"http://127.0.0.1:{port}/-/healthy")
            return
        except Exception:
            if agent.poll() is not None:
                sys.exit(f"mailbeat exited with {agent.returncode} on {cfg}")
            time.sleep(0.05)
    sys.exit("mailbeat did not become healthy within 120 s")


def run(n, target_port, every=None, duration=None, reload=False):
    every = every or EVERY
    duration = duration or DURATION
    ports = target_port if isinstance(target_port, list) else [target_port]
    tmp = tempfile.mkdtemp(prefix="mailbeat-bench-")
    cfg = os.path.join(tmp, "bench.yaml")
    write_config(cfg, n, ports, every)
    port = free_port()
    started = time.time()
    agent = subprocess.Popen([BIN, "run", "--config.file", cfg, "--web.listen-address", f"127.0.0.1:{port}",
                              "--web.enable-lifecycle", "--log.level", "error"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(agent, port, cfg)
        load_s = time.time() - started
        cpu0, t0 = cpu_seconds(agent.pid), time.time()
        # The steady state starts after the start-up round (spread over up to n/2000 s).
        warm_at = t0 + max(10, n / 2000) + 5
        time.sleep(max(0, min(duration, warm_at - time.time())))
        warm = get(f"http://127.0.0.1:{port}/metrics")
        time.sleep(max(0, t0 + duration - time.time()))
        cpu1, t1 = cpu_seconds(agent.pid), time.time()
        metrics = get(f"http://127.0.0.1:{port}/metrics")
        checks = int(sum(float(v) for v in re.findall(r'mailbeat_probe_runs_total\{[^}]*\} (\S+)', metrics)))
        checks_ok = int(sum(float(v) for v in re.findall(r'mailbeat_probe_runs_total\{[^}]*status="ok"[^}]*\} (\S+)', metrics)))
        skipped = float((re.findall(r'^mailbeat_scheduler_skipped_total (\S+)', metrics, re.M) or ["nan"])[0])
        samples = sum(1 for l in metrics.splitlines() if l and not l.startswith("#"))
        p50, count = lag_quantile(metrics, 0.5)
        p99, _ = lag_quantile(metrics, 0.99)
        sp99, steady_n = lag_quantile(metrics, 0.99, since=warm)
        times = []
        for _ in range(10):
            s = time.perf_counter()
            body = get(f"http://127.0.0.1:{port}/metrics")
            times.append(time.perf_counter() - s)
        times.sort()
        row = {
            "n": n, "every": every, "checks": checks, "ok_pct": checks_ok / max(checks, 1) * 100, "skipped": skipped,
            "lag_n": count, "p50": p50 * 1000, "p99": p99 * 1000,
            "m50": times[len(times) // 2] * 1000, "mmax": max(times) * 1000,
            "kib": len(body) / 1024, "series": samples,
            "cpu_pct": (cpu1 - cpu0) / (t1 - t0) * 100, "us_check": (cpu1 - cpu0) / max(checks, 1) * 1e6,
            "rss": rss_mib(agent.pid), "load_s": load_s, "sp99": sp99 * 1000, "steady_n": steady_n,
        }
        if reload:
            row.update(measure_reload(port, cfg, n, ports, every))
            row["rss"] = rss_mib(agent.pid)
        print(fmt_row(row), flush=True)
        return row
    finally:
        agent.terminate()
        agent.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)


def measure_reload(port, cfg, n, ports, every):
    """POST /-/reload of an edited n-target config (same targets: their slots carry over), timed;
    then the lag and skips of the checks scheduled across it, and checks per second before and
    after (no gap: the rate carries on)."""
    window = 30
    a = get(f"http://127.0.0.1:{port}/metrics")
    time.sleep(window)
    b = get(f"http://127.0.0.1:{port}/metrics")
    write_config(cfg, n, ports, every, comment=f"edited {time.time()}")
    s = time.perf_counter()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/-/reload", method="POST")
    with urllib.request.urlopen(req, timeout=120) as r:
        ok = r.status == 200
    reload_s = time.perf_counter() - s
    time.sleep(window)
    c = get(f"http://127.0.0.1:{port}/metrics")
    rate_before = (runs_total(b) - runs_total(a)) / window
    rate_after = (runs_total(c) - runs_total(b)) / (window + reload_s)
    rp99, _ = lag_quantile(c, 0.99, since=b)
    return {"reload_s": reload_s if ok else float("nan"), "reload_p99": rp99 * 1000,
            "reload_skipped": scalar(c, "mailbeat_scheduler_skipped_total") - scalar(b, "mailbeat_scheduler_skipped_total"),
            "rate_before": rate_before, "rate_after": rate_after}


HEADER = ("| targets | every | checks run | checks ok | skipped | lag samples | lag p50 | lag p99 | /metrics p50 | "
          "/metrics max | size | agent CPU | CPU/check | peak RSS |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def fmt_row(r):
    return (f"| {r['n']:,} | {r.get('every', EVERY)}s | {r['checks']:,} | {r['ok_pct']:.1f} % | {r['skipped']:,.0f} | {r['lag_n']:,.0f} | "
            f"≤{r['p50']:g} ms | ≤{r['p99']:g} ms | {r['m50']:.1f} ms | {r['mmax']:.1f} ms | "
            f"{r['kib']:,.0f} KiB / {r['series']:,} series | {r['cpu_pct']:.1f} % | {r['us_check']:.0f} µs | {r['rss']:.0f} MiB |")


def summary(n, rows):
    def mr(key, fmt):
        xs = [r[key] for r in rows]
        return f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"
    return (f"| {n:,} | {len(rows)} | {mr('p50', '≤{:g}')} ms | {mr('p99', '≤{:g}')} ms | {mr('m50', '{:.1f}')} ms | "
            f"{mr('mmax', '{:.1f}')} ms | {mr('kib', '{:,.0f}')} KiB | {mr('cpu_pct', '{:.1f}')} % | "
            f"{mr('us_check', '{:.0f}')} µs | {mr('rss', '{:.0f}')} MiB | {mr('ok_pct', '{:.1f}')} % |")


ISSUE12_HEADER = ("| targets | every | run | checks run | checks ok | skipped | lag p99 (all) | lag p99 (steady) | "
                  "/metrics p50 | /metrics max | size | agent CPU | CPU/check | peak RSS | start-up load | "
                  "reload | lag p99 across reload | skipped across reload | checks/s before → after reload |\n"
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def fmt_issue12(r, every, duration):
    reload = (f"{r['reload_s']:.2f} s | ≤{r['reload_p99']:g} ms | {r['reload_skipped']:,.0f} | "
              f"{r['rate_before']:.0f} → {r['rate_after']:.0f}") if "reload_s" in r else "– | – | – | –"
    return (f"| {r['n']:,} | {every}s | {duration}s | {r['checks']:,} | {r['ok_pct']:.1f} % | {r['skipped']:,.0f} | "
            f"≤{r['p99']:g} ms | ≤{r['sp99']:g} ms | {r['m50']:.0f} ms | {r['mmax']:.0f} ms | "
            f"{r['kib'] / 1024:,.1f} MiB / {r['series']:,} series | {r['cpu_pct']:.1f} % | {r['us_check']:.0f} µs | "
            f"{r['rss']:.0f} MiB | {r['load_s']:.1f} s | {reload} |")


def issue12():
    """10,000 targets every 60 s for 150 s; 100,000 every 5 min for 420 s (start-up round plus more
    than one full interval), then a reload of the 100,000-target config, then an outage of
    100,000. About 15 minutes."""
    ports = greeter(LISTENERS)
    plan = [(10_000, 60, 150, False), (100_000, 300, 420, True)]
    rows = []
    for n, every, duration, reload in plan:
        rows.append((run(n, ports, every=every, duration=duration, reload=reload), every, duration))
    print()
    print(f"Run of {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} CPUs, "
          f"{LISTENERS} loopback listeners:\n")
    print(ISSUE12_HEADER)
    for r, every, duration in rows:
        print(fmt_issue12(r, every, duration))
    print("\nAn outage: every target at a closed port, every check fails and alerts:\n", flush=True)
    r = outage()
    print(OUTAGE_HEADER)
    print(fmt_outage(r, 60))


def outage(n=100_000, every=300, for_s=60, limit=300):
    """Every target at a closed port: each check fails, so every target gets a
    MailTargetUnreachable alert (its `for` shortened to `for_s`), pending then firing. Samples
    /metrics every 10 s until all n alerts fire (at most `limit` s) and reports when the last
    became pending and firing, the agent's CPU up to then, the lag, skips and peak RSS."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed = s.getsockname()[1]
    s.close()
    tmp = tempfile.mkdtemp(prefix="mailbeat-outage-")
    cfg = os.path.join(tmp, "outage.yaml")
    write_config(cfg, n, [closed], every)
    with open(cfg) as f:
        text = f.read()
    with open(cfg, "w") as f:
        f.write(text.replace("targets:\n", f"alerts:\n  - {{name: MailTargetUnreachable, for: {for_s}s}}\ntargets:\n", 1))
    port = free_port()
    agent = subprocess.Popen([BIN, "run", "--config.file", cfg, "--web.listen-address", f"127.0.0.1:{port}",
                              "--log.level", "error"], cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthy(agent, port, cfg)
        cpu0, t0 = cpu_seconds(agent.pid), time.time()
        pending_at = firing_at = None
        while time.time() - t0 < limit:
            time.sleep(10)
            m = get(f"http://127.0.0.1:{port}/metrics")
            alerts = re.findall(r'^mailbeat_alert\{[^}]*state="(\w+)"', m, re.M)
            if pending_at is None and len(alerts) >= n:
                pending_at = time.time() - t0
            if sum(1 for a in alerts if a == "firing") >= n:
                firing_at = time.time() - t0
                break
        cpu = cpu_seconds(agent.pid) - cpu0
        p99, _ = lag_quantile(m, 0.99)
        row = {"n": n, "pending_at": pending_at, "firing_at": firing_at, "cpu": cpu,
               "elapsed": time.time() - t0, "alerts": len(alerts), "p99": p99 * 1000,
               "skipped": scalar(m, "mailbeat_scheduler_skipped_total"), "rss": rss_mib(agent.pid),
               "runs": runs_total(m)}
        return row
    finally:
        agent.terminate()
        agent.wait(timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)


OUTAGE_HEADER = ("| targets | alert `for` | checks run | all alerts pending after | all firing after | agent CPU until then | "
                 "lag p99 | skipped | peak RSS |\n|---|---|---|---|---|---|---|---|---|")


def fmt_outage(r, for_s):
    at = lambda x: f"{x:.0f} s" if x is not None else f"not within {r['elapsed']:.0f} s ({r['alerts']:,} alerts)"
    return (f"| {r['n']:,} | {for_s} s | {r['runs']:,.0f} | {at(r['pending_at'])} | {at(r['firing_at'])} | "
            f"{r['cpu']:.1f} s ({r['cpu'] / r['elapsed'] * 100:.0f} % of a core) | ≤{r['p99']:g} ms | {r['skipped']:,.0f} | {r['rss']:.0f} MiB |")


if __name__ == "__main__":
    if sys.argv[1:] == ["--outage"]:
        print(OUTAGE_HEADER)
        print(fmt_outage(outage(), 60))
        sys.exit(0)
    if sys.argv[1:] == ["--issue12"]:
        issue12()
        sys.exit(0)
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10000]
    p = greeter(LISTENERS)
    print(HEADER, flush=True)
    rows = {n: [] for n in sizes}
    for _ in range(RUNS):
        for n in sizes:
            rows[n].append(run(n, p))
    if RUNS > 1:
        print(f"\nMedian (min–max) of {RUNS} runs:\n")
        print("| targets | runs | lag p50 | lag p99 | /metrics p50 | /metrics max | size | agent CPU | CPU/check | peak RSS | checks ok |")
        print("|---|---|---|---|---|---|---|---|---|---|---|")
        for n in sizes:
            print(summary(n, rows[n]))
