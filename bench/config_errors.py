#!/usr/bin/env python3
"""Time `mailbeat validate` on a large config, valid and with typos in several targets.

A file that does not parse is read again part by part so that every typo is reported (each
section, then the `targets:` list halved until the entries that fail alone are found); this
shows what that costs next to reading a valid file of the same size.

    cargo build --release -p mailbeat
    python3 bench/config_errors.py 1000 5000

Prints a Markdown table: targets, typos, problems reported, median wall time of 5 runs.
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("MAILBEAT_BIN", "target/release/mailbeat")
RUNS = 5


def config(targets, typos):
    """A file of `targets` SMTP port checks; `typos` of them spell `host` as `hots`."""
    wrong = {round(i * (targets - 1) / max(typos - 1, 1)) for i in range(typos)} if typos else set()
    lines = ["targets:"]
    for t in range(targets):
        host = "hots" if t in wrong else "host"
        lines += [
            f"  - name: t{t}",
            "    protocol: smtp",
            f"    {host}: 127.0.0.1",
            "    port: 25",
            "    tls: none",
            "    probes: [port]",
        ]
    return "\n".join(lines) + "\n", len(wrong)


def median_run(path):
    times, problems = [], 0
    for _ in range(RUNS):
        start = time.monotonic()
        out = subprocess.run(
            [BIN, "validate", "--config.file", path], capture_output=True, text=True
        )
        times.append(time.monotonic() - start)
        problems = sum(1 for line in out.stderr.splitlines() if ": targets[" in line)
    return statistics.median(times), problems


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 5000]
    print("| targets | typos | problems reported | validate (median of 5) |")
    print("|---|---|---|---|")
    with tempfile.TemporaryDirectory() as d:
        for n in sizes:
            for typos in (0, 1, 3, 10):
                text, wrong = config(n, typos)
                path = os.path.join(d, f"c{n}-{typos}.yaml")
                with open(path, "w") as f:
                    f.write(text)
                seconds, problems = median_run(path)
                print(f"| {n:,} | {wrong} | {problems} | {seconds * 1000:.0f} ms |")


if __name__ == "__main__":
    main()
