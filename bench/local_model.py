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

`--vs-greedy OTHER/target/release/examples/greedy` also sets this build
beside another (the previous commit's, built in a worktree), run alternately
(`--rounds`), and prints medians and ratios; `--no-llama` skips llama.cpp.
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


def vigie_figures(greedy, model):
    """(prompt tok/s, decode tok/s, 8-stream tok/s, peak MB) of one run of a greedy example binary."""
    _, err, mb, _ = peak_mb([greedy, model, PROMPT, "128", "8"])
    single, streams = err.strip().splitlines()[-2:]
    prompt, decode = [float(x) for x in re.findall(r"\(([\d.]+) tok/s\)", single)]
    batched = float(re.findall(r"\(([\d.]+) tok/s aggregate\)", streams)[0])
    return prompt, decode, batched, mb, single, streams


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if len(values) % 2 else (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2


def compare_builds(model, other, rounds):
    """This build's greedy example against another's (e.g. the previous commit's), alternately."""
    this = str(ROOT / "target/release/examples/greedy")
    runs = {"this": [], "other": []}
    for _ in range(rounds):
        for name, binary in (("this", this), ("other", other)):
            runs[name].append(vigie_figures(binary, model)[:4])
    names = ["prompt tok/s", "decode tok/s", "8 streams tok/s", "peak MB"]
    print(f"{rounds} alternating runs each; medians (this / other):")
    for i, label in enumerate(names):
        a, b = median([r[i] for r in runs["this"]]), median([r[i] for r in runs["other"]])
        print(f"  {label:16} {a:8.1f} {b:8.1f}  ratio {a / b:.2f}x")


def main():
    import argparse
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--vs-greedy", help="another build's greedy example binary (e.g. the previous commit's) to compare with, alternately")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-llama", action="store_true", help="skip llama.cpp (llama-cpp-python not installed)")
    args = parser.parse_args()
    model = args.model
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "vigie-local", "--example", "greedy"], cwd=ROOT, check=True)
    if args.vs_greedy:
        compare_builds(model, args.vs_greedy, args.rounds)
    if args.no_llama:
        return
    prompt, decode, batched, vigie_mb, vigie, streams = vigie_figures(str(ROOT / "target/release/examples/greedy"), model)
    _, err, llama_mb, _ = peak_mb([sys.executable, "-c", LLAMA, model, PROMPT])
    llama = err.strip().splitlines()[-1]
    l = [float(x) for x in re.findall(r"\(([\d.]+) tok/s\)", llama)]
    print(f"vigie     {vigie}; peak {vigie_mb:.0f} MB")
    print(f"llama.cpp {llama}; peak {llama_mb:.0f} MB (includes the Python interpreter)")
    print(f"vigie     {streams}")
    print(f"ratios vigie/llama.cpp: prompt {prompt / l[0]:.2f}x, decode {decode / l[1]:.2f}x, memory {vigie_mb / llama_mb:.2f}x")
    print(f"vigie 8 streams / vigie single stream: {batched / decode:.2f}x")


if __name__ == "__main__":
    main()
