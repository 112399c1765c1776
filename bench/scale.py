#!/usr/bin/env python3
"""Scale benchmark: scheduler lag and /metrics render time at N targets.

Starts a loopback SMTP greeter (asyncio), writes a config with N targets (port probe, `every`
interval) pointing at it, runs the release `mailbeat run`, lets it check for a while, then reads
the scheduler-lag histogram, times /metrics scrapes and reads the agent's CPU time and RSS from
/proc. Prints one Markdown table row per N.

    cargo build --release -p mailbeat
    python3 bench/scale.py 1000 10000          # defaults: every 60s, run 130s
"""
import asyncio, os, re, socket, subprocess, sys, tempfile, threading, time, urllib.request

BIN = os.path.join(os.path.dirname(__file__), "..", "target", "release", "mailbeat")
EVERY = int(os.environ.get("BENCH_EVERY", "60"))
DURATION = int(os.environ.get("BENCH_DURATION", "130"))


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
        for _ in range(200):
            try:
                get(f"http://127.0.0.1:{port}/-/healthy")
                break
            except Exception:
                time.sleep(0.05)
        cpu0, t0 = cpu_seconds(agent.pid), time.time()
        time.sleep(DURATION)
        cpu1, t1 = cpu_seconds(agent.pid), time.time()
        metrics = get(f"http://127.0.0.1:{port}/metrics")
        checks = int(sum(float(v) for v in re.findall(r'mailbeat_probe_runs_total\{[^}]*\} (\S+)', metrics)))
        samples = sum(1 for l in metrics.splitlines() if l and not l.startswith("#"))
        p50, count = lag_quantile(metrics, 0.5)
        p99, _ = lag_quantile(metrics, 0.99)
        times = []
        for _ in range(10):
            s = time.perf_counter()
            body = get(f"http://127.0.0.1:{port}/metrics")
            times.append(time.perf_counter() - s)
        times.sort()
        print(f"| {n:,} | {EVERY}s | {checks:,} | {count:,.0f} | ≤{p50*1000:g} ms | ≤{p99*1000:g} ms | "
              f"{times[len(times)//2]*1000:.1f} ms | {max(times)*1000:.1f} ms | {len(body)/1024:,.0f} KiB / {samples:,} series | "
              f"{(cpu1-cpu0)/(t1-t0)*100:.1f} % | {(cpu1-cpu0)/max(checks,1)*1e6:.0f} µs | {rss_mib(agent.pid):.0f} MiB |", flush=True)
    finally:
        agent.terminate()
        agent.wait(timeout=20)


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10000]
    p = greeter()
    print("| targets | every | checks run | lag samples | lag p50 | lag p99 | /metrics p50 | /metrics max | size | agent CPU | CPU/check | peak RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        run(n, p)
