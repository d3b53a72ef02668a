#!/usr/bin/env python3
"""`vigie serve` beside llama.cpp's `llama-server` on the same GGUF (issue 3):
decoding rate with 1 request, then aggregate rate with 8 concurrent requests.

Each request is a different ~64-token prompt and asks for exactly 128 new
tokens (`ignore_eos`, which both servers take), through the OpenAI
`/v1/completions` endpoint. llama-server runs with 2 threads and 8 parallel
slots. Only the Python standard library is used. Build llama-server from
llama.cpp's source (e.g. the one vendored in the llama-cpp-python sdist) with
the flags of bench/tokenizer_fixture.py, then from the repository root:

    python3 bench/serve_streams.py MODEL.gguf /path/to/llama-server
"""
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOPICS = ["lighthouses", "bridges", "canals", "windmills", "railways", "harbours", "observatories", "libraries"]
NEW_TOKENS = 128


def prompt(topic):
    return (f"Write a long, careful history of {topic}: who built the first ones, which materials and tools they used, "
            f"how the designs changed over the centuries, what went wrong with some of them, and why {topic} still "
            "matter to the towns around them today. Begin with the earliest records.")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, proc, seconds=120):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            sys.exit(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/v1/models", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"{url} did not come up")


def model_id(url):
    with urllib.request.urlopen(url + "/v1/models", timeout=5) as r:
        return json.load(r)["data"][0]["id"]


def complete(url, text):
    body = json.dumps({"model": model_id(url), "prompt": text, "max_tokens": NEW_TOKENS, "ignore_eos": True, "temperature": 0}).encode()
    request = urllib.request.Request(url + "/v1/completions", data=body, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=600) as r:
        answer = json.load(r)
    return answer["usage"]["completion_tokens"]


def measure(url, streams):
    results = [0] * streams
    def run(i):
        results[i] = complete(url, prompt(TOPICS[i % len(TOPICS)]))
    threads = [threading.Thread(target=run, args=(i,)) for i in range(streams)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    if any(n != NEW_TOKENS for n in results):
        sys.exit(f"expected {NEW_TOKENS} tokens per request, got {results}")
    return sum(results) / wall


def bench(name, cmd, url):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_ready(url, proc)
        complete(url, prompt("warm-up"))  # first-request costs out of the way
        single = measure(url, 1)
        eight = measure(url, 8)
    finally:
        proc.terminate()
        proc.wait()
    print(f"{name:<13} 1 stream {single:6.1f} tok/s   8 streams {eight:6.1f} tok/s aggregate ({eight / single:.2f}x)")
    return single, eight


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    model, llama_server = sys.argv[1], sys.argv[2]
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "vigie-cli"], cwd=ROOT, check=True)
    port = free_port()
    v = bench("vigie serve", [str(ROOT / "target/release/vigie"), "serve", "--model", "local/" + os.path.abspath(model), "--port", str(port)], f"http://127.0.0.1:{port}")
    port = free_port()
    l = bench("llama-server", [llama_server, "-m", model, "-t", "2", "-np", "8", "-c", "4096", "--port", str(port)], f"http://127.0.0.1:{port}")
    print(f"ratios vigie/llama-server: 1 stream {v[0] / l[0]:.2f}x, 8 streams {v[1] / l[1]:.2f}x")


if __name__ == "__main__":
    main()
