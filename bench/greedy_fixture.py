#!/usr/bin/env python3
"""Writes the greedy-continuation fixture that vigie's local inference is tested against.

For ten fixed prompts (rendered with the model's chat template), llama.cpp
(llama-cpp-python, built from source as in tokenizer_fixture.py) decodes the
first 32 tokens greedily. Run by hand from the repository root:

    /tmp/llama-venv/bin/python bench/greedy_fixture.py ~/.cache/vigie/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

Only the resulting JSON is committed.
"""
import json
import sys
from pathlib import Path

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "What is 12 times 7?",
    "Name three primary colours.",
    "Translate 'good morning' into French.",
    "Explain in one sentence what a firewall does.",
    "List two uses of a hammer.",
    "Who wrote Romeo and Juliet?",
    "Give me a synonym for 'happy'.",
    "Why is the sky blue?",
]
N_TOKENS = 32


def chat(prompt):
    # The GGUF's chat template, with its default system message.
    return ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
            f"<|im_start|>user\n{prompt}<|im_end|>\n<|im_start|>assistant\n")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    import numpy as np
    from llama_cpp import Llama

    model = Llama(model_path=sys.argv[1], n_ctx=512, n_threads=2, logits_all=True, verbose=False)
    cases = []
    for prompt in PROMPTS:
        model.reset()
        text = chat(prompt)
        model.eval(model.tokenize(text.encode(), add_bos=False, special=True))
        out = []
        for _ in range(N_TOKENS):
            token = int(np.argmax(model.scores[model.n_tokens - 1]))
            out.append(token)
            model.eval([token])
        cases.append({"prompt": text, "greedy": out})
    path = Path(__file__).resolve().parent.parent / "crates/vigie-local/tests/data/smollm2_greedy.json"
    lines = ",\n".join("  " + json.dumps(case, ensure_ascii=False) for case in cases)
    source = f"llama.cpp (llama-cpp-python), greedy argmax, first {N_TOKENS} tokens"
    path.write_text(f'{{"source": {json.dumps(source)},\n "cases": [\n{lines}\n]}}\n')
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
