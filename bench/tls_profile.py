#!/usr/bin/env python3
"""Profile a TLS check under load with `perf record` (software cpu-clock event, DWARF call graphs).

    python3 bench/tls_profile.py probe [TARGET] [N]          # mailbeat /probe, N probes (default imaps 4000)
    python3 bench/tls_profile.py scheduled [TARGET] [SECS]   # mailbeat's scheduled checks (500 targets every 5 s)
    python3 bench/tls_profile.py floor [N]                   # bench/tls-floor, IMAPS
    perf script -i $BENCH_OUT/perf-MODE-TARGET.data | python3 bench/perf_breakdown.py --checks CHECKS

The config, targets and binaries are those of bench/tls_cpu.py (BENCH_MAILBEAT, CARGO_TARGET_DIR);
perf.data is kept in $BENCH_OUT (default a new temp dir). It prints the number of checks recorded
and the CPU per check under perf (DWARF unwinding makes it higher than without).
"""
import asyncio, os, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tls_cpu as t  # noqa: E402

mode = sys.argv[1] if len(sys.argv) > 1 else "probe"
out = os.environ.get("BENCH_OUT") or tempfile.mkdtemp(prefix="mailbeat-prof-")
os.makedirs(out, exist_ok=True)
PERF = ["perf", "record", "-e", "cpu-clock", "-F", "2000", "--call-graph", "dwarf,32768"]


def record(pid, data):
    perf = subprocess.Popen(PERF + ["-o", data, "-p", str(pid)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    time.sleep(1)
    return perf


def agent(cfg_targets, every):
    cfg = os.path.join(out, "mailbeat.yaml")
    with open(cfg, "w") as f:
        f.write(f"global:\n  every: {every}\n  timeout: 10s\n  concurrency: 64\n  ehlo_name: prober.test\n"
                f"  state_dir: {out}/data\ntargets:\n")
        for line in cfg_targets:
            f.write(line)
    port = t.free_port()
    mb = subprocess.Popen([t.BIN, "run", "--config.file", cfg, "--web.listen-address", f"127.0.0.1:{port}",
                           "--log.level", "warn"])
    t.wait_healthy(f"http://127.0.0.1:{port}/-/healthy", mb, "mailbeat")
    time.sleep(12)  # the start-up runs
    return mb, port


if mode == "floor":
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 4000
    data = os.path.join(out, "perf-floor-imaps.data")
    subprocess.run(PERF + ["-o", data, "--", t.FLOOR, "--ca", t.CA, "--name", t.NAME, "--addr",
                           f"127.0.0.1:{t.IMAPS}", "--n", str(n), "--c", str(t.C)], check=True)
    print(f"floor: {n} checks (+{t.WARMUP} warm-up) recorded\nperf data: {data}")
elif mode == "scheduled":
    target = sys.argv[2] if len(sys.argv) > 2 else "imaps"
    secs = float(sys.argv[3]) if len(sys.argv) > 3 else 15
    proto, port_, tls, probe = t.MB_TARGETS[target]
    mb, port = agent([t.target_line(f"{target}-{i}", proto, port_, tls, probe) for i in range(t.SCHED_TARGETS)],
                     t.SCHED_EVERY)
    try:
        data = os.path.join(out, f"perf-scheduled-{target}.data")
        perf = record(mb.pid, data)
        r0, c0 = t.runs_by_status(port), t.cpu_seconds(mb.pid)
        time.sleep(secs)
        c1 = t.cpu_seconds(mb.pid)
        r1 = t.runs_by_status(port)
        perf.send_signal(2)
        perf.wait()
        n = sum(r1.values()) - sum(r0.values())
        print(f"scheduled {target}: {n:.0f} checks, {(c1 - c0) / n * 1000:.3f} ms CPU/check (under perf)")
        print(f"perf data: {data}")
    finally:
        mb.terminate()
        mb.wait(timeout=20)
else:
    target = sys.argv[2] if len(sys.argv) > 2 else "imaps"
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 4000
    mb, port = agent([t.target_line(name, *spec) for name, spec in t.MB_TARGETS.items()], "24h")
    try:
        asyncio.run(t.load(port, f"/probe?target={target}", 200, t.C))
        data = os.path.join(out, f"perf-probe-{target}.data")
        perf = record(mb.pid, data)
        cpu0 = t.cpu_seconds(mb.pid)
        wall, lat, ok, bad = asyncio.run(t.load(port, f"/probe?target={target}", n, t.C))
        cpu1 = t.cpu_seconds(mb.pid)
        perf.send_signal(2)
        perf.wait()
        print(f"probe {target}: {n} probes, ok {ok}, {(cpu1 - cpu0) / n * 1000:.3f} ms CPU/probe (under perf), "
              f"{n / wall:.0f}/s")
        print(f"perf data: {data}")
    finally:
        mb.terminate()
        mb.wait(timeout=20)
