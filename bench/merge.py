#!/usr/bin/env python3
"""Merging shards (issue 17): a task of N samples (default a million) run as
S shards (default 64) by the real binary against the project's scripted
server — each shard a `vigie eval --shard I/S` writing its own log — then
`vigie log merge` of the S logs, timed, with its peak memory (it streams:
the records of a shard are never all in memory). Run by hand, from the
repository root:

    python3 bench/merge.py --samples 1000000 --shards 64 --work /tmp/vmerge
"""
import argparse
import json
import os
import sys
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The same generated task as the viewer's benchmark.
from view import TASK  # noqa: E402  (bench/ is this script's folder)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--shards", type=int, default=64)
    parser.add_argument("--work", type=Path, required=True, help="a folder for the shard logs; shards already there are kept")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "vigie-cli", "-p", "vigie-testserver"], cwd=ROOT, check=True)
    vigie = str(ROOT / "target/release/vigie")
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, VIGIE_HOME=str(work / "home"))
    if not (work / "big.jsonl").exists():
        with open(work / "big.jsonl", "w") as f:
            for i in range(args.samples):
                answer = "4" if i % 3 else "5"
                f.write(json.dumps({"id": f"s{i}", "question": f"What is {i % 97}? [[reply:4]]", "answer": answer,
                                    "category": f"c{i % 7}"}) + "\n")
        (work / "big.toml").write_text(TASK)
    server = subprocess.Popen([str(ROOT / "target/release/vigie-testserver"), "--delay-ms", "0"],
                              stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().split()[-1]
    try:
        start = time.perf_counter()
        for i in range(args.shards):
            if list((work / "shards" / str(i)).glob("*.vlog")):
                continue
            subprocess.run([vigie, "eval", "big.toml", "--model", "openai/mock", "--base-url", url, "--shard",
                            f"{i}/{args.shards}", "--max-connections", "64", "--no-progress",
                            "--log-dir", str(work / "shards" / str(i))],
                           cwd=work, env=env, check=True, stdout=subprocess.DEVNULL)
            print(f"shard {i + 1}/{args.shards} written ({time.perf_counter() - start:.0f} s)", flush=True)
    finally:
        server.terminate()
    shards = sorted((work / "shards").rglob("*.vlog"))
    total = sum(p.stat().st_size for p in shards)
    out = work / "merged.vlog"
    if out.exists():
        out.unlink()
    # The merge's own peak memory: measured by a process that runs only it.
    measure = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
               "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
               "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    printed = subprocess.run([sys.executable, "-c", measure, vigie, "log", "merge", *map(str, shards),
                              "--output", str(out)], check=True, capture_output=True, text=True).stdout.split()
    elapsed, peak_mb = float(printed[0]), int(printed[1]) / 1024
    print(f"merged {len(shards)} shard logs ({total / 1e6:.0f} MB) of {args.samples} samples into "
          f"{out.stat().st_size / 1e6:.0f} MB in {elapsed:.1f} s, peak memory {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
