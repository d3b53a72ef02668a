#!/usr/bin/env python3
"""`vigie view` at scale (issue 16): a synthetic log of N samples (default a
million) written by the real log writer — `vigie eval` of a generated task
against the project's scripted server — then the viewer started on it and
timed from the client's side: start to the first page of samples, a sort, a
score filter, a category filter, a text search and a far page, and the
server's peak memory. Run by hand, from the repository root:

    python3 bench/view.py --samples 1000000
"""
import argparse
import json
import random
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TASK = """name = "big"
group_by = "category"

[dataset]
path = "big.jsonl"
id = "id"
input = "question"
target = "answer"
metadata = ["category"]

[[solver]]
generate = {}

[[scorer]]
includes = {}
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--work", type=Path, help="a folder to write the log in and keep; a log already there is reused")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "vigie-cli", "-p", "vigie-testserver"], cwd=ROOT, check=True)
    vigie = str(ROOT / "target/release/vigie")
    work = args.work or Path(tempfile.mkdtemp(prefix="vigie-view-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    log = next((work / "logs").glob("*.vlog"), None)
    if log is None:
        log = write_log(vigie, work, args.samples)
    else:
        print(f"reusing {log}")
    view(vigie, work, log, args.samples)


def write_log(vigie, work, samples):
    r = random.Random(1)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau".split()
    with open(work / "big.jsonl", "w") as f:
        for i in range(samples):
            q = " ".join(r.choice(words) for _ in range(12))
            # Every ninth answered wrong, so that a score filter selects some.
            wrong = " [[reply:no idea]]" if i % 9 == 0 else ""
            f.write(json.dumps({"id": f"s{i}", "question": f"Q{i}: {q}. What is {i % 7}+0?{wrong}",
                                "answer": str(i % 7), "category": f"c{i % 10}"}) + "\n")
    (work / "big.toml").write_text(TASK)
    server = subprocess.Popen([str(ROOT / "target/release/vigie-testserver"), "--solve-sums"], stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().split()[-1]
    start = time.perf_counter()
    subprocess.run([vigie, "eval", "big.toml", "--model", "openai/mock", "--base-url", url, "--max-connections", "64",
                    "--no-progress", "--log-dir", "logs"], cwd=work, check=True, stdout=subprocess.DEVNULL)
    server.terminate()
    log = next((work / "logs").glob("*.vlog"))
    print(f"{samples} samples written in {time.perf_counter() - start:.1f} s; log {log.stat().st_size / 1e6:.0f} MB")
    return log


def view(vigie, work, log, samples):

    start = time.perf_counter()
    view = subprocess.Popen([vigie, "view", str(work / "logs"), "--port", "0"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    base = view.stdout.readline().strip()
    peak = [0]

    def watch():
        while view.poll() is None:
            try:
                for line in open(f"/proc/{view.pid}/status"):
                    if line.startswith("VmHWM"):
                        peak[0] = int(line.split()[1])
            except OSError:
                pass
            time.sleep(0.05)

    threading.Thread(target=watch, daemon=True).start()
    page = f"samples?log=0/{log.name}"

    def timed(path):
        t = time.perf_counter()
        urllib.request.urlopen(base + path).read()
        return time.perf_counter() - t

    timed(page)
    print(f"start to first page of samples: {time.perf_counter() - start:.3f} s (target 0.3 s)")
    for name, query in [("sort by time (waits for the index)", "&sort=time&order=desc"), ("sort by time", "&sort=time"),
                        ("sort by score", "&sort=includes&order=desc"), ("score filter", "&score=includes%3C1"),
                        ("category filter", "&group=c3"), ("search", f"&q=Q{samples * 7 // 9}:"),
                        ("a far page", "&page=10000")]:
        print(f"{name:36} {timed(page + query):.3f} s")
    print(f"peak memory of the server: {peak[0] / 1024:.0f} MB (target 300 MB)")
    steady = next(int(line.split()[1]) for line in open(f"/proc/{view.pid}/status") if line.startswith("VmRSS"))
    print(f"its memory after these requests: {steady / 1024:.0f} MB")
    view.terminate()


if __name__ == "__main__":
    main()
