#!/usr/bin/env python3
"""Profile mailbeat's /probe under TLS load with `perf record` (software cpu-clock event).

Starts mailbeat on the same config as bench/tls_cpu.py, warms up, then records N probes of one
target (default imaps) and prints `perf report` top entries (self time, then children).

    python3 bench/tls_profile.py [TARGET] [N]      # e.g. imaps 4000; perf.data kept in $BENCH_OUT
"""
import os, subprocess, sys, tempfile, time, asyncio

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tls_cpu as t  # noqa: E402

target = sys.argv[1] if len(sys.argv) > 1 else "imaps"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
out = os.environ.get("BENCH_OUT", tempfile.mkdtemp(prefix="mailbeat-prof-"))
cfg = os.path.join(out, "mailbeat.yaml")
with open(cfg, "w") as f:
    f.write(f"global:\n  every: 24h\n  timeout: 10s\n  concurrency: 64\n  ehlo_name: prober.test\n"
            f"  state_dir: {out}/data\ntargets:\n")
    for name, (proto, port, mode, probe) in t.MB_TARGETS.items():
        f.write(f"  - {{name: {name}, protocol: {proto}, host: 127.0.0.1, port: {port}, tls: {mode}, "
                f"tls_server_name: {t.NAME}, ca_file: \"{t.CA}\", probes: [{probe}]}}\n")
port = t.free_port()
mb = subprocess.Popen([t.BIN, "run", "--config.file", cfg, "--web.listen-address", f"127.0.0.1:{port}",
                       "--log.level", "warn"])
try:
    t.wait_healthy(f"http://127.0.0.1:{port}/-/healthy", mb, "mailbeat")
    time.sleep(11)
    asyncio.run(t.load(port, f"/probe?target={target}", 200, t.C))
    data = os.path.join(out, f"perf-{target}.data")
    perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "2000", "--call-graph", "dwarf,32768",
                             "-o", data, "-p", str(mb.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    cpu0 = t.cpu_seconds(mb.pid)
    wall, lat, ok, bad = asyncio.run(t.load(port, f"/probe?target={target}", n, t.C))
    cpu1 = t.cpu_seconds(mb.pid)
    perf.send_signal(2)
    perf.wait()
    print(f"{target}: {n} probes, ok {ok}, {(cpu1 - cpu0) / n * 1000:.3f} ms CPU/probe (under perf), {n / wall:.0f}/s")
    print(f"perf data: {data}")
finally:
    mb.terminate()
    mb.wait(timeout=20)
