#!/usr/bin/env python3
"""`vigie view` side by side with `inspect view` (issue 16): the same task of
N samples (default 10,000: a question each, scored by `includes`) run by
vigie and by Inspect against the project's scripted server, then each
viewer started on its log and timed from a real browser: from starting the
viewer's process to the first sample row visible in headless Chromium,
driven by WebDriver (Debian's `chromium-driver`); and the viewer's peak
memory. Run by hand, from the repository root:

    python3 -m venv /tmp/inspect-venv && /tmp/inspect-venv/bin/pip install inspect-ai openai
    apt-get install chromium chromium-driver
    python3 bench/view_vs_inspect.py --inspect /tmp/inspect-venv/bin/inspect

Each viewer is timed `--rounds` times (the browser restarted each time, so
nothing is cached); the best round of each is compared.
"""
import argparse
import json
import os
import random
import shutil
import socket
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
INSPECT_TASK = """import json
from inspect_ai import Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.scorer import includes
from inspect_ai.solver import generate


@task
def big(path="big.jsonl"):
    rows = [json.loads(line) for line in open(path)]
    samples = [Sample(id=r["id"], input=r["question"], target=r["answer"], metadata={"category": r["category"]}) for r in rows]
    return Task(dataset=MemoryDataset(samples), solver=generate(), scorer=includes())
"""
# The first sample's input, as both viewers show it in their first row.
FIRST_ROW = "Q0:"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Browser:
    """Headless Chromium driven over WebDriver's HTTP protocol."""

    def __init__(self):
        port = free_port()
        self.driver = subprocess.Popen([shutil.which("chromedriver") or "/usr/bin/chromedriver", f"--port={port}"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(self.base + "/status").read()
                break
            except OSError:
                time.sleep(0.05)
        options = {"binary": shutil.which("chromium") or "/usr/bin/chromium",
                   "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"]}
        session = self.call("POST", "/session", {"capabilities": {"alwaysMatch": {"goog:chromeOptions": options}}})
        self.session = f"/session/{session['sessionId']}"
        self.call("POST", self.session + "/url", {"url": "about:blank"})

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method, headers={"Content-Type": "application/json"})
        return json.loads(urllib.request.urlopen(request).read())["value"]

    def open(self, url):
        self.call("POST", self.session + "/url", {"url": url})

    def shows(self, text):
        script = "return !!document.body && document.body.innerText.includes(arguments[0]);"
        return self.call("POST", self.session + "/execute/sync", {"script": script, "args": [text]})

    def screenshot(self, path):
        import base64
        Path(path).write_bytes(base64.b64decode(self.call("GET", self.session + "/screenshot")))

    def close(self):
        try:
            self.call("DELETE", self.session)
        finally:
            self.driver.terminate()
            self.driver.wait()


def peak_memory(process, peak, stop):
    """The peak resident memory of `process` and its children, in kB."""
    while not stop.is_set() and process.poll() is None:
        total = 0
        for pid in [process.pid] + children(process.pid):
            try:
                total += next(int(line.split()[1]) for line in open(f"/proc/{pid}/status") if line.startswith("VmHWM"))
            except (OSError, StopIteration):
                pass
        peak[0] = max(peak[0], total)
        time.sleep(0.02)


def children(pid):
    try:
        found = [int(c) for c in open(f"/proc/{pid}/task/{pid}/children").read().split()]
    except OSError:
        return []
    return found + [g for c in found for g in children(c)]


def time_viewer(name, command, url, cwd, screenshot):
    """Starts the viewer, opens `url` once it answers, and waits for the first row."""
    browser = Browser()
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak, stop = [0], threading.Event()
    watcher = threading.Thread(target=peak_memory, args=(process, peak, stop), daemon=True)
    watcher.start()
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=1).read()
                break
            except OSError:
                if time.perf_counter() - start > 120:
                    raise SystemExit(f"{name} did not answer at {url}")
                time.sleep(0.01)
        answered = time.perf_counter() - start
        browser.open(url)
        while not browser.shows(FIRST_ROW):
            if time.perf_counter() - start > 300:
                raise SystemExit(f"{name}: no sample row after 300 s")
            time.sleep(0.01)
        visible = time.perf_counter() - start
        browser.screenshot(screenshot)
        time.sleep(0.5)  # what it holds once the page is shown
    finally:
        stop.set()
        watcher.join()
        process.terminate()
        process.wait()
        browser.close()
    return answered, visible, peak[0] / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--inspect", help="the `inspect` command of a venv with inspect-ai")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, help="a folder to keep the logs in; logs already there are reused")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "vigie-cli", "-p", "vigie-testserver"], cwd=ROOT, check=True)
    vigie = str(ROOT / "target/release/vigie")
    work = args.work or Path(tempfile.mkdtemp(prefix="vigie-view-vs-inspect-"))
    work.mkdir(parents=True, exist_ok=True)
    r = random.Random(1)
    words = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau".split()
    if not (work / "big.jsonl").exists():
        with open(work / "big.jsonl", "w") as f:
            for i in range(args.samples):
                q = " ".join(r.choice(words) for _ in range(12))
                wrong = " [[reply:no idea]]" if i % 9 == 0 else ""
                f.write(json.dumps({"id": f"s{i}", "question": f"Q{i}: {q}. What is {i % 7}+0?{wrong}",
                                    "answer": str(i % 7), "category": f"c{i % 10}"}) + "\n")
    (work / "big.toml").write_text(TASK)
    (work / "inspect_big.py").write_text(INSPECT_TASK)
    server = subprocess.Popen([str(ROOT / "target/release/vigie-testserver"), "--solve-sums"], stdout=subprocess.PIPE, text=True)
    base_url = server.stdout.readline().split()[-1]
    try:
        if not list((work / "logs").glob("*.vlog")):
            subprocess.run([vigie, "eval", "big.toml", "--model", "openai/mock", "--base-url", base_url, "--max-connections", "64",
                            "--no-progress", "--log-dir", "logs"], cwd=work, check=True, stdout=subprocess.DEVNULL)
        if args.inspect and not list((work / "ilogs").glob("*.eval")):
            env = dict(os.environ, OPENAI_BASE_URL=base_url, OPENAI_API_KEY="unused", INSPECT_DISPLAY="none")
            subprocess.run([args.inspect, "eval", "inspect_big.py@big", "--model", "openai/scripted", "-M", "responses_api=false",
                            "--max-connections", "64", "--log-dir", "ilogs"], cwd=work, env=env, check=True,
                           stdout=subprocess.DEVNULL)
    finally:
        server.terminate()
    log = next((work / "logs").glob("*.vlog"))
    rows = []
    for round in range(1, args.rounds + 1):
        port = free_port()
        answered, visible, memory = time_viewer(
            "vigie view", [vigie, "view", "logs", "--port", str(port)],
            f"http://127.0.0.1:{port}/samples?log=0/{log.name}", work, work / "vigie-view.png")
        rows.append(("vigie view", round, answered, visible, memory))
        if args.inspect:
            port = free_port()
            answered, visible, memory = time_viewer(
                "inspect view", [args.inspect, "view", "start", "--log-dir", "ilogs", "--port", str(port)],
                f"http://127.0.0.1:{port}/", work, work / "inspect-view.png")
            rows.append(("inspect view", round, answered, visible, memory))
    print(f"{args.samples} samples; logs in {work}; screenshots vigie-view.png, inspect-view.png")
    print(f"{'viewer':14} {'round':>5} {'answers (s)':>12} {'first row visible (s)':>22} {'peak memory (MB)':>17}")
    for name, round, answered, visible, memory in rows:
        print(f"{name:14} {round:>5} {answered:>12.3f} {visible:>22.3f} {memory:>17.1f}")
    best = {}
    for name, _, _, visible, memory in rows:
        was = best.get(name, (float("inf"), float("inf")))
        best[name] = (min(was[0], visible), min(was[1], memory))
    if "inspect view" in best:
        (v, vm), (i, im) = best["vigie view"], best["inspect view"]
        print(f"best of {args.rounds}: vigie {v:.3f} s, {vm:.0f} MB; inspect {i:.3f} s, {im:.0f} MB: "
              f"first row {i / v:.1f}x sooner, {im / vm:.1f}x less memory")


if __name__ == "__main__":
    main()
