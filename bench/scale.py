#!/usr/bin/env python3
"""Scale benchmark: scheduler lag and /metrics render time at N targets.

Starts a loopback SMTP greeter (asyncio), writes a config with N targets (port probe, `every`
interval) pointing at it, runs the release `mailbeat run`, lets it check for a while, then reads
the scheduler-lag histogram, times /metrics scrapes and reads the agent's CPU time and RSS from
/proc. Prints one Markdown table row per N.

    cargo build --release -p mailbeat
    python3 bench/scale.py 1000 10000          # defaults: every 60s, run 130s, 1 run per size
    BENCH_RUNS=3 python3 bench/scale.py 1000 10000   # 3 runs per size (interleaved) + median (min–max)

Env: BENCH_EVERY (s), BENCH_DURATION (s), BENCH_RUNS. "checks ok" counts runs that ended ok: a broken
greeter would make every check a cheap failure, so a run where it is not 100 % is not comparable.
Lag quantiles are the upper bound of the histogram bucket that holds them (the agent's buckets).
"""
import asyncio, os, re, shutil, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request

BIN = os.path.join(os.path.dirname(__file__), "..", "target", "release", "mailbeat")
EVERY = int(os.environ.get("BENCH_EVERY", "60"))
DURATION = int(os.environ.get("BENCH_DURATION", "130"))
RUNS = int(os.environ.get("BENCH_RUNS", "1"))


def greeter():
    """A loopback server that greets and closes; returns its port."""
    ready = threading.Event()
    port = []

    async def handle(reader, writer):
        writer.write(b"220 bench.example ESMTP\r\n")
        await writer.drain()
        writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
        port.append(server.sockets[0].getsockname()[1])
        ready.set()
        async with server:
            await server.serve_forever()

    threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()
    ready.wait()
    return port[0]


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


def lag_quantile(metrics, q):
    buckets = []
    for m in re.finditer(r'mailbeat_scheduler_lag_seconds_bucket\{le="([^"]+)"\} (\S+)', metrics):
        buckets.append((float(m.group(1)), float(m.group(2))))
    total = buckets[-1][1] if buckets else 0
    for le, count in buckets:
        if total and count >= q * total:
            return le, total
    return float("nan"), total


def run(n, target_port):
    tmp = tempfile.mkdtemp(prefix="mailbeat-bench-")
    cfg = os.path.join(tmp, "bench.yaml")
    with open(cfg, "w") as f:
        f.write(f"global:\n  every: {EVERY}s\n  timeout: 10s\n  concurrency: 256\ntargets:\n")
        for i in range(n):
            f.write(f"  - {{name: t{i:05d}, protocol: smtp, host: 127.0.0.1, port: {target_port}, tls: none, probes: [port]}}\n")
    port = free_port()
    agent = subprocess.Popen([BIN, "run", "--config.file", cfg, "--web.listen-address", f"127.0.0.1:{port}",
                              "--log.level", "error"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            try:
                get(f"http://127.0.0.1:{port}/-/healthy")
                break
            except Exception:
                if agent.poll() is not None:
                    sys.exit(f"mailbeat exited with {agent.returncode} on {cfg}")
                time.sleep(0.05)
        else:
            sys.exit("mailbeat did not become healthy within 30 s")
        cpu0, t0 = cpu_seconds(agent.pid), time.time()
        time.sleep(DURATION)
        cpu1, t1 = cpu_seconds(agent.pid), time.time()
        metrics = get(f"http://127.0.0.1:{port}/metrics")
        checks = int(sum(float(v) for v in re.findall(r'mailbeat_probe_runs_total\{[^}]*\} (\S+)', metrics)))
        checks_ok = int(sum(float(v) for v in re.findall(r'mailbeat_probe_runs_total\{[^}]*status="ok"[^}]*\} (\S+)', metrics)))
        skipped = float((re.findall(r'^mailbeat_scheduler_skipped_total (\S+)', metrics, re.M) or ["nan"])[0])
        samples = sum(1 for l in metrics.splitlines() if l and not l.startswith("#"))
        p50, count = lag_quantile(metrics, 0.5)
        p99, _ = lag_quantile(metrics, 0.99)
        times = []
        for _ in range(10):
            s = time.perf_counter()
            body = get(f"http://127.0.0.1:{port}/metrics")
            times.append(time.perf_counter() - s)
        times.sort()
        row = {
            "n": n, "checks": checks, "ok_pct": checks_ok / max(checks, 1) * 100, "skipped": skipped,
            "lag_n": count, "p50": p50 * 1000, "p99": p99 * 1000,
            "m50": times[len(times) // 2] * 1000, "mmax": max(times) * 1000,
            "kib": len(body) / 1024, "series": samples,
            "cpu_pct": (cpu1 - cpu0) / (t1 - t0) * 100, "us_check": (cpu1 - cpu0) / max(checks, 1) * 1e6,
            "rss": rss_mib(agent.pid),
        }
        print(fmt_row(row), flush=True)
        return row
    finally:
        agent.terminate()
        agent.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)


HEADER = ("| targets | every | checks run | checks ok | skipped | lag samples | lag p50 | lag p99 | /metrics p50 | "
          "/metrics max | size | agent CPU | CPU/check | peak RSS |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")


def fmt_row(r):
    return (f"| {r['n']:,} | {EVERY}s | {r['checks']:,} | {r['ok_pct']:.1f} % | {r['skipped']:,.0f} | {r['lag_n']:,.0f} | "
            f"≤{r['p50']:g} ms | ≤{r['p99']:g} ms | {r['m50']:.1f} ms | {r['mmax']:.1f} ms | "
            f"{r['kib']:,.0f} KiB / {r['series']:,} series | {r['cpu_pct']:.1f} % | {r['us_check']:.0f} µs | {r['rss']:.0f} MiB |")


def summary(n, rows):
    def mr(key, fmt):
        xs = [r[key] for r in rows]
        return f"{fmt.format(statistics.median(xs))} ({fmt.format(min(xs))}–{fmt.format(max(xs))})"
    return (f"| {n:,} | {len(rows)} | {mr('p50', '≤{:g}')} ms | {mr('p99', '≤{:g}')} ms | {mr('m50', '{:.1f}')} ms | "
            f"{mr('mmax', '{:.1f}')} ms | {mr('kib', '{:,.0f}')} KiB | {mr('cpu_pct', '{:.1f}')} % | "
            f"{mr('us_check', '{:.0f}')} µs | {mr('rss', '{:.0f}')} MiB | {mr('ok_pct', '{:.1f}')} % |")


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10000]
    p = greeter()
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
