#!/usr/bin/env python3
"""Campaigns (issue 17): the eight built-in suites against the project's
scripted server, run as one campaign (`vigie campaign run`: every task at
once, one connection limit shared by all) against the same tasks run one
after another as today (`vigie eval suite:NAME` eight times), with the same
per-model connection limit. Prints each side's wall time (median of the
rounds) and their ratio. Run by hand, from the repository root:

    python3 bench/campaign.py --limit 20 --delay-ms 50 --connections 10
"""
import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SUITES = ["refusal", "over-refusal", "jailbreak", "manipulation", "loss-of-control",
          "hazardous-knowledge", "cyber", "truthfulness"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=20, help="samples per task")
    parser.add_argument("--delay-ms", type=int, default=50, help="the server's delay per request")
    parser.add_argument("--connections", type=int, default=10, help="requests in flight to the model")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets",
                        help="the public benchmark files, so that the suites' benchmark tasks run too")
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "vigie-cli", "-p", "vigie-testserver"], cwd=ROOT, check=True)
    vigie = str(ROOT / "target/release/vigie")
    server = subprocess.Popen([str(ROOT / "target/release/vigie-testserver"), "--delay-ms", str(args.delay_ms)],
                              stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().split()[-1]
    work = Path(tempfile.mkdtemp(prefix="vigie-campaign-bench-"))
    env = dict(os.environ, VIGIE_HOME=str(work / "home"))
    # The judge and the attacker are the scripted server too: the suites'
    # model-graded and attack tasks run (their verdicts need not parse).
    models = ["--model", "openai/mock", "--base-url", url, "--judge-model", "openai/judge", "--judge-base-url", url,
              "--attacker-model", "openai/attacker", "--attacker-base-url", url]
    common = ["--limit", str(args.limit), "--max-connections", str(args.connections), "--no-progress"]
    if args.datasets.is_dir():
        common += ["--datasets", str(args.datasets)]
    sequential, campaign = [], []
    records = None
    try:
        for round in range(args.rounds):
            start = time.perf_counter()
            for suite in SUITES:
                subprocess.run([vigie, "eval", f"suite:{suite}", *models, *common, "--log-dir", str(work / f"seq{round}")],
                               cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            sequential.append(time.perf_counter() - start)
            tasks = [a for s in SUITES for a in ("--task", f"suite:{s}")]
            start = time.perf_counter()
            subprocess.run([vigie, "campaign", "run", str(work / f"camp{round}"), *tasks, *models, *common],
                           cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            campaign.append(time.perf_counter() - start)
            logs = sorted((work / f"camp{round}" / "logs").rglob("*.vlog"))
            seq_logs = sorted((work / f"seq{round}").rglob("*.vlog"))
            records = (len(logs), len(seq_logs))
            print(f"round {round + 1}: one after another {sequential[-1]:.2f} s, campaign {campaign[-1]:.2f} s", flush=True)
    finally:
        server.terminate()
    s, c = statistics.median(sequential), statistics.median(campaign)
    print(f"{len(SUITES)} suites, {records[0]} runs in the campaign ({records[1]} one after another), "
          f"--limit {args.limit}, server delay {args.delay_ms} ms, {args.connections} connections")
    print(f"one after another: median {s:.2f} s; campaign: median {c:.2f} s; the campaign takes {c / s:.2f}x the time "
          f"({s / c:.1f}x faster)")


if __name__ == "__main__":
    main()
