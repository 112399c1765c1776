#!/usr/bin/env python3
"""A/B of two mailbeat builds: CPU per TLS check, alternating, in one run (issue #12 iteration).

    BENCH_A=/path/to/baseline-mailbeat BENCH_B=target/release/mailbeat python3 bench/tls_ab.py [probe|scheduled|both]

`probe`: both agents run side by side with the targets of bench/tls_cpu.py; each round measures
`/probe` for each target on A then B (B then A on odd rounds), N probes at concurrency C.
`scheduled`: for each target and round, a fresh agent of each build with BENCH_SCHED_TARGETS
targets (as bench/tls_cpu.py's scheduled cell), alternating which build goes first.
Prints each cell and the median per build; the figures are the process's CPU per check, so
they are comparable between A and B of the same run only (another build on the box moves both).
Env as bench/tls_cpu.py (BENCH_N, BENCH_C, BENCH_ROUNDS, BENCH_SCHED_*), plus BENCH_TARGETS
(comma-separated, default imaps,imap-starttls,smtp-starttls).
"""
import asyncio, os, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tls_cpu as t  # noqa: E402

A = os.environ["BENCH_A"]
B = os.environ["BENCH_B"]
TARGETS = os.environ.get("BENCH_TARGETS", "imaps,imap-starttls,smtp-starttls").split(",")
mode = sys.argv[1] if len(sys.argv) > 1 else "probe"


def start(binary, tmp, tag):
    cfg = os.path.join(tmp, f"{tag}.yaml")
    with open(cfg, "w") as f:
        f.write(f"global:\n  every: 24h\n  timeout: 10s\n  concurrency: 64\n  ehlo_name: prober.test\n"
                f"  state_dir: {tmp}/{tag}-data\ntargets:\n")
        for name, spec in t.MB_TARGETS.items():
            f.write(t.target_line(name, *spec))
    port = t.free_port()
    log = open(os.path.join(tmp, f"{tag}.log"), "w")
    p = subprocess.Popen([binary, "run", "--config.file", cfg, "--web.listen-address", f"127.0.0.1:{port}",
                          "--log.level", "warn"], stdout=log, stderr=log)
    t.wait_healthy(f"http://127.0.0.1:{port}/-/healthy", p, tag)
    return p, port


def report(res):
    for target in TARGETS:
        a, b = res[("A", target)], res[("B", target)]
        ma, mb = statistics.median(a), statistics.median(b)
        print(f"{mode} {target:15} A {ma:.3f} ms  B {mb:.3f} ms  B/A {mb / ma:.3f}   "
              f"(A {' '.join(f'{x:.3f}' for x in a)}; B {' '.join(f'{x:.3f}' for x in b)})", flush=True)


def probe():
    tmp = tempfile.mkdtemp(prefix="mailbeat-ab-")
    agents = {"A": start(A, tmp, "A"), "B": start(B, tmp, "B")}
    try:
        time.sleep(11)
        for tag, (p, port) in agents.items():
            for target in TARGETS:
                t.measure(p, port, f"/probe?target={target}", t.WARMUP, t.C)
        res = {(tag, target): [] for tag in agents for target in TARGETS}
        for rnd in range(t.ROUNDS):
            for target in TARGETS:
                for tag in (("A", "B") if rnd % 2 == 0 else ("B", "A")):
                    p, port = agents[tag]
                    r = t.measure(p, port, f"/probe?target={target}", t.N, t.C)
                    if r["ok"] != t.N:
                        sys.exit(f"{tag} {target}: only {r['ok']}/{t.N} ok: {r['bad'][:1]}")
                    res[(tag, target)].append(r["cpu_ms"])
                    print(f"round {rnd + 1} {tag} {target:15} {r['cpu_ms']:.3f} ms/probe", flush=True)
        report(res)
    finally:
        for p, _ in agents.values():
            p.terminate()
            p.wait(timeout=20)


def scheduled():
    tmp = tempfile.mkdtemp(prefix="mailbeat-ab-")
    res = {(tag, target): [] for tag in ("A", "B") for target in TARGETS}
    for rnd in range(t.ROUNDS):
        for target in TARGETS:
            for tag in (("A", "B") if rnd % 2 == 0 else ("B", "A")):
                t.BIN = A if tag == "A" else B
                r = t.measure_scheduled(os.path.join(tmp, f"{tag}{rnd}"), target)
                if r["bad"]:
                    sys.exit(f"{tag} {target}: {r['bad']}")
                res[(tag, target)].append(r["cpu_ms"])
                print(f"round {rnd + 1} {tag} {target:15} {r['cpu_ms']:.3f} ms/check ({r['n']} checks)", flush=True)
    report(res)


if mode in ("probe", "both"):
    probe()
if mode in ("scheduled", "both"):
    mode = "scheduled"
    scheduled()
