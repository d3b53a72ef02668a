#!/usr/bin/env python3
"""How closely vigie follows llama.cpp on GGUFs in other quantizations than
the embedded model's Q4_1 (issue 3). vigie runs Q4_0, Q5_0, Q5_1 and the
K-quants by expanding them to Q8_0 at load, so greedy continuations are
expected to agree for a while and then may part at a near-tie; this prints,
per file, how many of the first 32 greedy tokens agree for a few prompts.
Given the Q8_0 requantization of such a file (`llama-quantize
--allow-requantize F.gguf F-as-Q8_0.gguf Q8_0`), vigie on F and llama.cpp on
F-as-Q8_0 agree on all 32 (measured: Q4_K_M and Q5_1, four prompts each).

Make the files with llama.cpp's `llama-quantize --allow-requantize` from the
embedded model, then run with llama-cpp-python built from source (see
tokenizer_fixture.py):

    /tmp/llama-venv/bin/python bench/quant_agreement.py /tmp/quants/*.gguf
"""
import subprocess
import sys
from pathlib import Path

from llama_cpp import Llama

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = ["The capital of France is", "Once upon a time, in a small village,", "def fibonacci(n):", "The three primary colors are"]
N = 32


def vigie_tokens(model, prompt):
    out = subprocess.run([str(ROOT / "target/release/examples/greedy"), model, prompt, str(N)], capture_output=True, text=True, check=True)
    return [int(t) for t in out.stdout.splitlines()[0].strip("[]").split(",") if t.strip()]


def main():
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "vigie-local", "--example", "greedy"], cwd=ROOT, check=True)
    for model in sys.argv[1:]:
        llm = Llama(model_path=model, n_threads=2, n_ctx=512, verbose=False)
        agree = []
        for prompt in PROMPTS:
            llm.reset()
            ids = llm.tokenize(prompt.encode(), add_bos=True, special=True)
            ref = []
            for token in llm.generate(ids, temp=0.0, top_k=1):
                ref.append(token)
                if len(ref) == N:
                    break
            mine = vigie_tokens(model, prompt)
            same = next((i for i, (a, b) in enumerate(zip(mine, ref)) if a != b), min(len(mine), len(ref)))
            agree.append(same)
        print(f"{Path(model).name:28s} first tokens in agreement per prompt: {agree} (of {N})")


if __name__ == "__main__":
    main()
