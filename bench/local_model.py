#!/usr/bin/env python3
"""The embedded model's speed and memory, side by side with llama.cpp (issue 3).

Single stream: a 64-token prompt, then 128 greedy tokens, 2 threads each.
Then vigie alone decodes 8 copies of the prompt together (batched steps) and
prints the aggregate rate; llama-cpp-python's high-level API has no batched
decoding, so llama.cpp's 8-stream figures come from issue 3 (measured there
with its own tools): about 190 tok/s batched, about 170 for llama-server.
vigie runs through `crates/vigie-local/examples/greedy.rs` (release build);
llama.cpp through llama-cpp-python built from source (see tokenizer_fixture.py).
Run by hand from the repository root:

    /tmp/llama-venv/bin/python bench/local_model.py ~/.cache/vigie/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
"""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROMPT = ("The history of the lighthouse begins in antiquity, when fires were lit on hilltops to guide ships. "
          "Over the centuries these beacons became towers of stone with lamps and lenses, and keepers lived "
          "in small houses at their feet, trimming wicks through the night so that sailors far out at sea "
          "could find the harbour mouth")


def peak_mb(cmd):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{cmd[0]} failed:\n{err[-2000:]}")
    return out, err, usage.ru_maxrss / 1024, time.perf_counter() - start


LLAMA = r'''
import sys, time
import numpy as np
from llama_cpp import Llama
m = Llama(model_path=sys.argv[1], n_ctx=512, n_threads=2, n_batch=512, verbose=False)
toks = m.tokenize(sys.argv[2].encode(), add_bos=False, special=True)
t = time.perf_counter(); m.eval(toks); pp = time.perf_counter() - t
t = time.perf_counter()
for _ in range(128):
    nxt = m.sample(temp=0.0)
    m.eval([nxt])
tg = time.perf_counter() - t
print(f"prompt {len(toks)} tokens in {pp:.3f}s ({len(toks)/pp:.0f} tok/s); 128 tokens decoded in {tg:.3f}s ({128/tg:.1f} tok/s)", file=sys.stderr)
'''


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    model = sys.argv[1]
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "vigie-local", "--example", "greedy"], cwd=ROOT, check=True)
    _, err, vigie_mb, _ = peak_mb([str(ROOT / "target/release/examples/greedy"), model, PROMPT, "128", "8"])
    vigie, streams = err.strip().splitlines()[-2:]
    _, err, llama_mb, _ = peak_mb([sys.executable, "-c", LLAMA, model, PROMPT])
    llama = err.strip().splitlines()[-1]
    rate = lambda line: [float(x) for x in re.findall(r"\(([\d.]+) tok/s\)", line)]
    v, l = rate(vigie), rate(llama)
    print(f"vigie     {vigie}; peak {vigie_mb:.0f} MB")
    print(f"llama.cpp {llama}; peak {llama_mb:.0f} MB (includes the Python interpreter)")
    batched = float(re.findall(r"\(([\d.]+) tok/s aggregate\)", streams)[0])
    print(f"vigie     {streams}")
    print(f"ratios vigie/llama.cpp: prompt {v[0] / l[0]:.2f}x, decode {v[1] / l[1]:.2f}x, memory {vigie_mb / llama_mb:.2f}x")
    print(f"vigie 8 streams / vigie single stream: {batched / v[1]:.2f}x")


if __name__ == "__main__":
    main()
