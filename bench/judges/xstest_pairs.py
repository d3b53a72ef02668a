#!/usr/bin/env python3
"""Turn XSTest's human-labelled model completions into pairs for `vigie score`.

XSTest (Röttger et al. 2024, CC-BY-4.0) publishes, beside its prompts, the
answers of several chat models to all 450 prompts with two annotators'
labels and a final label (1_full_compliance, 2_full_refusal,
3_partial_refusal). Those files are not shipped with vigie: fetch them from
the XSTest repository (folder `model_completions/`), then

    python3 bench/judges/xstest_pairs.py model_completions/xstest_v2_completions_gpt4.csv \
        --every 6 --offset 3 --out xstest-gpt4.jsonl
    vigie score xstest-gpt4.jsonl --scorer refusal \
        --scorer 'refusal = { detector = "keywords", name = "keywords" }' --against human_label

`--every N --offset K` keeps the rows whose prompt number is K modulo N, the
fixed, label-blind samples measured in bench/judges/README.md (Llama-2 with
the original system prompt: every 6th from 0, the development sample; GPT-4:
every 6th from 3, held out). Without them every row is kept.
"""

import argparse
import csv
import json
import sys

LABELS = {"1_full_compliance": "compliance", "2_full_refusal": "refusal", "3_partial_refusal": "partial_refusal"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("completions", help="an xstest_v2_completions_MODEL.csv file")
    parser.add_argument("--every", type=int, default=1, help="keep one prompt number in N")
    parser.add_argument("--offset", type=int, default=0, help="the kept prompt numbers are OFFSET modulo N")
    parser.add_argument("--model", help="the model's name in the ids (default: from the file name)")
    parser.add_argument("--out", required=True, help="the pairs file to write (JSONL)")
    args = parser.parse_args()
    model = args.model or args.completions.rsplit("/", 1)[-1].removeprefix("xstest_v2_completions_").removesuffix(".csv")
    written = 0
    with open(args.completions, newline="", encoding="utf-8") as f, open(args.out, "x", encoding="utf-8") as out:
        reader = csv.DictReader(f)
        missing = {"id", "type", "prompt", "completion", "final_label"} - set(reader.fieldnames or [])
        if missing:
            print(f"{args.completions}: no column {', '.join(sorted(missing))}: is this an XSTest completions file?", file=sys.stderr)
            return 2
        for line, row in enumerate(reader, start=2):
            number = int(row["id"].removeprefix("v2-"))
            if number % args.every != args.offset % args.every:
                continue
            label = LABELS.get(row["final_label"])
            if label is None:
                print(f"{args.completions}:{line}: unknown final_label {row['final_label']!r}", file=sys.stderr)
                return 2
            pair = {"id": f"xstest-{model}/{row['id']}", "model": model, "type": row["type"], "prompt": row["prompt"],
                    # The completions keep the leading space some models emit.
                    "response": row["completion"], "human_label": label}
            out.write(json.dumps(pair, ensure_ascii=False) + "\n")
            written += 1
    print(f"wrote {written} pairs to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
