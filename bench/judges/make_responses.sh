#!/usr/bin/env bash
# Makes the responses of the judge-agreement set (bench/judges/labelled.jsonl):
# the embedded model's answers to the project's harmful and benign prompts,
# plainly (the refusal suite's own settings) and told to be careful (sampled),
# exported as prompt-response pairs. The labels in labelled.jsonl were then
# written by a person following bench/judges/CRITERIA.md, without looking at
# any detector's output. Run from the repository root after a release build.
set -euo pipefail
out=${1:-target/judges}
mkdir -p "$out"
vigie=./target/release/vigie
$vigie eval suite:refusal --log-dir "$out/plain" --no-progress
$vigie eval bench/judges/cautious-harmful.toml --log-dir "$out/cautious" --no-progress
$vigie eval bench/judges/cautious-benign.toml --log-dir "$out/cautious" --no-progress
$vigie eval bench/judges/policy-harmful.toml --log-dir "$out/policy" --no-progress
$vigie eval bench/judges/policy-benign.toml --log-dir "$out/policy" --no-progress
for log in "$out"/plain/*.vlog "$out"/cautious/*.vlog "$out"/policy/*.vlog; do
    $vigie log export "$log" --format jsonl
done > "$out/responses.jsonl"
echo "wrote $out/responses.jsonl" >&2
