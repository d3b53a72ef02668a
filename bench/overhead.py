#!/usr/bin/env python3
"""Harness overhead of vigie, side by side with UK AISI's Inspect (issue 2).

N one-turn samples ("What is 2+2? Answer with a number.", target "4", the
`includes` scorer) against the project's loopback test server, which answers
every request after a fixed delay. For each harness and connection count it
reports wall time (and the ideal, N x delay / connections), CPU time, peak
memory, log bytes per sample, and the time to read the log back.

Run by hand, from the repository root:

    python3 -m venv /tmp/inspect-venv && /tmp/inspect-venv/bin/pip install inspect-ai openai
    python3 bench/overhead.py --inspect /tmp/inspect-venv/bin/inspect

Without --inspect only vigie is measured. Inspect never becomes a dependency.

--frontier makes every answer what a frontier model sends: a 2,000-word
reasoning block (`reasoning_content`) and a tool call beside the answer, so
that the cost of reading, keeping and logging them shows in CPU per sample and
log bytes per sample (issue 13).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "What is 2+2? Answer with a number."


def measure(cmd, env=None, cwd=None):
    """Runs cmd; returns (wall s, CPU s, peak RSS MB) of that process and the children it waited for."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # wait4 gives this child's own usage; RUSAGE_CHILDREN would mix in earlier children (cargo).
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    stderr = proc.stderr.read()
    if proc.returncode != 0:
        sys.exit(f"{cmd[0]} failed ({proc.returncode}):\n{stderr[-3000:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def start_server(delay_ms, frontier=False):
    extra = ["--reasoning-words", "2000", "--tool-call", 'lookup:{"query":"2+2"}'] if frontier else []
    server = subprocess.Popen([str(ROOT / "target/release/vigie-testserver"), "--delay-ms", str(delay_ms), "--threads", os.environ.get("SERVER_THREADS", "1")] + extra,
                              stdout=subprocess.PIPE, text=True)
    line = server.stdout.readline().strip()
    return server, line.removeprefix("listening on ")


def vigie_run(work, base_url, n, connections, vigie=None):
    task_dir = work / "vigie"
    task_dir.mkdir(exist_ok=True)
    with open(task_dir / "arith.jsonl", "w") as f:
        for i in range(n):
            f.write(json.dumps({"id": f"s{i}", "question": QUESTION, "answer": "4"}) + "\n")
    (task_dir / "arith.toml").write_text(
        'name = "arith"\n[dataset]\npath = "arith.jsonl"\nid = "id"\ninput = "question"\ntarget = "answer"\n'
        '[[solver]]\ngenerate = {}\n[[scorer]]\nincludes = {}\n')
    logs = Path(tempfile.mkdtemp(prefix=f"vigie-logs-{connections}-", dir=work))
    vigie = vigie or str(ROOT / "target/release/vigie")
    wall, cpu, rss = measure([vigie, "eval", str(task_dir / "arith.toml"), "--model", "openai/mock", "--base-url", base_url,
                              "--max-connections", str(connections), "--log-dir", str(logs), "--no-progress"])
    log = next(logs.glob("*.vlog"))
    read_wall = min(measure([vigie, "log", "export", str(log)])[0] for _ in range(3))
    header_wall = min(measure([vigie, "log", "show", str(log), "--json"])[0] for _ in range(5))
    startup = min(measure([vigie, "--version"])[0] for _ in range(5))
    return dict(wall=wall, cpu=cpu, rss=rss, log_bytes=log.stat().st_size / n, read=read_wall, header=header_wall, startup=startup)


INSPECT_TASK = '''
from inspect_ai import Task, task
from inspect_ai.dataset import Sample
from inspect_ai.scorer import includes
from inspect_ai.solver import generate

@task
def arith(n: int = 100):
    return Task(dataset=[Sample(input="{q}", target="4", id=i) for i in range(n)], solver=generate(), scorer=includes())
'''.format(q=QUESTION)


def inspect_run(work, inspect, base_url, n, connections):
    task = work / "inspect_task.py"
    task.write_text(INSPECT_TASK)
    logs = work / f"inspect-logs-{connections}"
    env = dict(os.environ, OPENAI_BASE_URL=base_url, OPENAI_API_KEY="unused", INSPECT_DISPLAY="none")
    wall, cpu, rss = measure([inspect, "eval", f"{task}@arith", "-T", f"n={n}", "--model", "openai/mock", "-M", "responses_api=false",
                              "--max-connections", str(connections), "--log-dir", str(logs), "--display", "none"], env=env, cwd=work)
    log = next(logs.glob("*.eval"))
    python = str(Path(inspect).parent / "python")
    read_wall = measure([python, "-c", f"from inspect_ai.log import read_eval_log; read_eval_log({str(log)!r})"])[0]
    header_wall = measure([python, "-c", f"from inspect_ai.log import read_eval_log; read_eval_log({str(log)!r}, header_only=True)"])[0]
    startup = measure([python, "-c", "import inspect_ai.log"])[0]
    return dict(wall=wall, cpu=cpu, rss=rss, log_bytes=log.stat().st_size / n, read=read_wall, header=header_wall, startup=startup)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--delay-ms", type=int, default=20)
    parser.add_argument("--connections", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--inspect", help="path to Inspect's `inspect` command")
    parser.add_argument("--inspect-connections", type=int, nargs="+", default=[100])
    parser.add_argument("--vs-vigie", help="another build's vigie binary (e.g. the previous commit's) to run alternately with this one")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds with --vs-vigie")
    parser.add_argument("--frontier", action="store_true", help="every answer carries a 2,000-word reasoning block and a tool call")
    args = parser.parse_args()

    subprocess.run(["cargo", "build", "--release", "-q", "-p", "vigie-cli", "-p", "vigie-testserver"], cwd=ROOT, check=True)
    server, base_url = start_server(args.delay_ms, args.frontier)
    results = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            if args.inspect:
                for c in args.inspect_connections:
                    results.append(("inspect", c, inspect_run(work, args.inspect, base_url, args.samples, c)))
            if args.vs_vigie:
                pairs = {c: ([], []) for c in args.connections}
                for _ in range(args.rounds):
                    for c in args.connections:
                        pairs[c][0].append(vigie_run(work, base_url, args.samples, c))
                        pairs[c][1].append(vigie_run(work, base_url, args.samples, c, args.vs_vigie))
            else:
                for c in args.connections:
                    results.append(("vigie", c, vigie_run(work, base_url, args.samples, c)))
    finally:
        server.terminate()
        _, _, server_usage = os.wait4(server.pid, 0)

    n = args.samples
    if args.vs_vigie:
        median = lambda xs: sorted(xs)[len(xs) // 2]
        kind = "; every answer with 2,000 words of reasoning and a tool call" if args.frontier else ""
        print(f"\n{n} samples, server delay {args.delay_ms} ms{kind}; {args.rounds} alternating rounds; medians, this build / {args.vs_vigie}")
        for c, (this, other) in pairs.items():
            for key in ["wall", "cpu", "rss", "log_bytes", "read", "header", "startup"]:
                a, b = median([r[key] for r in this]), median([r[key] for r in other])
                print(f"  {c:>5} conn  {key:10} {a:10.4f} {b:10.4f}  ratio {a / b:.2f}x")
            a, b = median([r["cpu"] for r in this]), median([r["cpu"] for r in other])
            print(f"  {c:>5} conn  CPU ms/sample {1000 * a / n:.3f} {1000 * b / n:.3f}")
        return
    server_cpu = server_usage.ru_utime + server_usage.ru_stime
    print(f"\n{n} samples, server delay {args.delay_ms} ms; the test server used {server_cpu:.2f} s of CPU over the whole benchmark")
    print(f"{'harness':8} {'conn':>5} {'wall s':>8} {'ideal s':>8} {'wall/ideal':>10} {'CPU s':>7} {'CPU ms/sample':>13} {'peak MB':>8} {'log B/sample':>12} {'read s':>7} {'header s':>8} {'start s':>7}")
    for name, c, r in results:
        ideal = n * args.delay_ms / 1000 / c
        print(f"{name:8} {c:>5} {r['wall']:>8.2f} {ideal:>8.2f} {r['wall'] / ideal:>10.2f} {r['cpu']:>7.2f} {1000 * r['cpu'] / n:>13.3f} "
              f"{r['rss']:>8.1f} {r['log_bytes']:>12.0f} {r['read']:>7.3f} {r['header']:>8.4f} {r['startup']:>7.4f}")
    insp = [r for name, c, r in results if name == "inspect" and c == 100]
    vig = [r for name, c, r in results if name == "vigie" and c == 100]
    if insp and vig:
        i, v = insp[0], vig[0]
        print("\nratios at 100 connections (Inspect / vigie):")
        print(f"  wall {i['wall'] / v['wall']:.1f}x, CPU per sample {i['cpu'] / v['cpu']:.1f}x, peak memory {i['rss'] / v['rss']:.1f}x, "
              f"log bytes {i['log_bytes'] / v['log_bytes']:.1f}x, full read {i['read'] / v['read']:.1f}x")


if __name__ == "__main__":
    main()
