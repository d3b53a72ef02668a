#!/usr/bin/env python3
"""Writes crates/vigie-local/tests/data/dequant.json: random blocks of the
quantizations vigie expands at load (Q4_0, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K) and
their values as ggml's own Python package, gguf-py, expands them. Scale
fields are set to ordinary half-precision numbers so no block decodes to
infinity or NaN. Run once by hand with gguf-py importable (it ships in
llama.cpp's source tree) and numpy installed:

    PYTHONPATH=/path/to/llama.cpp/gguf-py python3 bench/dequant_fixture.py
"""
import json
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize

ROOT = Path(__file__).resolve().parent.parent
# (type, block bytes, offsets of f16 fields)
TYPES = [(T.Q4_0, 18, [0]), (T.Q5_0, 22, [0]), (T.Q5_1, 24, [0, 2]), (T.Q4_K, 144, [0, 2]), (T.Q5_K, 176, [0, 2]), (T.Q6_K, 210, [208])]


def main():
    rng = np.random.default_rng(20261129)
    cases = []
    for qtype, size, halves in TYPES:
        for _ in range(3):
            block = bytearray(rng.integers(0, 256, size, dtype=np.uint8).tobytes())
            for at in halves:
                block[at:at + 2] = np.float16(rng.uniform(-0.05, 0.05)).tobytes()
            values = dequantize(np.frombuffer(bytes(block), dtype=np.uint8), qtype)
            cases.append({"type": int(qtype), "name": qtype.name, "bytes": bytes(block).hex(), "values": [float(v) for v in values.reshape(-1)]})
    out = ROOT / "crates/vigie-local/tests/data/dequant.json"
    out.write_text(json.dumps({"generator": "bench/dequant_fixture.py (gguf-py dequantize)", "cases": cases}) + "\n")
    print(f"wrote {out} ({len(cases)} blocks)")


if __name__ == "__main__":
    main()
