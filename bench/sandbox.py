#!/usr/bin/env python3
"""Sandbox start-up cost (issue 14): `vigie sandbox run true` N times, each a
fresh sandbox (work folder, namespaces, root filesystem, the command, then
everything removed), timed from outside, so the figure includes starting the
vigie process itself: an upper bound on create + first exec + destroy.

    python3 bench/sandbox.py --runs 1000

With Docker on the machine, `--docker` times `docker run --rm alpine true`
beside it.
"""
import argparse
import shutil
import statistics
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def times(cmd, runs):
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        out.append(time.perf_counter() - start)
    return out


def report(name, samples):
    samples = sorted(samples)
    p95 = samples[int(0.95 * (len(samples) - 1))]
    print(f"{name:40} median {1000 * statistics.median(samples):7.2f} ms   p95 {1000 * p95:7.2f} ms   ({len(samples)} runs)")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--docker", action="store_true")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "vigie-cli"], cwd=ROOT, check=True)
    vigie = str(ROOT / "target/release/vigie")
    times([vigie, "sandbox", "run", "true"], 5)  # warm the page cache
    report("vigie --version (process start alone)", times([vigie, "--version"], args.runs))
    report("vigie sandbox run true", times([vigie, "sandbox", "run", "true"], args.runs))
    if args.docker and shutil.which("docker"):
        report("docker run --rm alpine true", times(["docker", "run", "--rm", "alpine", "true"], max(20, args.runs // 20)))


if __name__ == "__main__":
    main()
