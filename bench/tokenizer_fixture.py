#!/usr/bin/env python3
"""Writes the token-id fixture that vigie's tokenizer is tested against.

The expected ids come from llama.cpp itself (llama-cpp-python, built from
source), tokenizing a committed corpus with the embedded model's vocabulary.
Run by hand, from the repository root, after `vigie model pull smollm2`:

    python3 -m venv /tmp/llama-venv
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=ON -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" \\
        /tmp/llama-venv/bin/pip install llama-cpp-python
    /tmp/llama-venv/bin/python bench/tokenizer_fixture.py ~/.cache/vigie/models/smollm2/SmolLM2-135M-Instruct.Q4_1.gguf

Only the resulting JSON is committed; llama.cpp is never a dependency.
"""
import json
import sys
from pathlib import Path

CORPUS = [
    "Hello world",
    "hello, World! How are you?",
    "The quick brown fox jumps over the lazy dog.",
    "What is 2+2? Answer with a number.",
    "1234567890 and 3.14159 and 1,000,000",
    "  leading spaces",
    "trailing spaces   ",
    "two  spaces   three    four",
    "tabs\tand\ttabs\t\tdouble",
    "new\nline\n\ntwo\n\n\nthree",
    "\n\n\n",
    " ",
    "",
    "café naïve résumé façade",
    "Ça va ? Très bien, merci. Où est la gare ?",
    "Grüße aus München",
    "日本語のテキスト",
    "中文测试：你好，世界！",
    "한국어 문장",
    "Привет, мир!",
    "مرحبا بالعالم",
    "emoji 🙂🚀👩‍👩‍👧 done",
    "don't can't won't I'm you're we've they'll she'd",
    "DON'T SHOUT'S",
    "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
    "fn main() { println!(\"{}\", x.iter().map(|v| v * 2).sum::<i32>()); }",
    "<div class=\"x\">&amp; &lt;tag&gt;</div>",
    "https://example.org/path?query=1&b=2#frag",
    "user@example.com, +33 1 23 45 67 89",
    "$$$ ### @@@ !!! ??? ...",
    "a\u00a0non-breaking\u2003em-space",
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n",
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|><repo_name>vigie<file_sep>src/main.rs",
    "text<|im_end|>more<|im_start|>",
    "x" * 50,
    "ab" * 40,
]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    from llama_cpp import Llama

    model = Llama(model_path=sys.argv[1], vocab_only=True, verbose=False)
    cases = [{"text": text, "ids": model.tokenize(text.encode("utf-8"), add_bos=False, special=True)} for text in CORPUS]
    out = Path(__file__).resolve().parent.parent / "crates/vigie-local/tests/data/smollm2_tokens.json"
    lines = ",\n".join("  " + json.dumps(case, ensure_ascii=False) for case in cases)
    source = "llama.cpp (llama-cpp-python) tokenize(add_bos=False, special=True)"
    out.write_text(f'{{"source": {json.dumps(source)},\n "cases": [\n{lines}\n]}}\n')
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main()
