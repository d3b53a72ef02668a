#!/usr/bin/env python3
"""Agents at scale (issue 14): N agent samples at once against the scripted
server, each 10 turns of one `bash` call (a fresh sandbox command each) and a
final `submit`, on this machine. Reports the wall time against the ideal
the server's delay sets (11 turns x delay, all samples in parallel), CPU
per tool call (the vigie process with its sandbox helpers and the commands
themselves, from wait4; and the vigie process alone, from /proc), and the
peak memory of the vigie process.

    python3 bench/agents.py --samples 100 --delay-ms 100
"""
import argparse
import json
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TASK = """name = "agents-bench"

[dataset]
path = "agents.jsonl"
id = "id"
input = "input"
target = "target"

[[solver]]
agent = {{ tools = ["bash"], message_limit = 60 }}

[[scorer]]
exact = {{}}
"""


def own_cpu(pid, seen):
    """Polls the process's own user+system time (its children not counted)."""
    tick = os.sysconf("SC_CLK_TCK")
    while True:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            return
        seen[0] = (int(fields[11]) + int(fields[12])) / tick
        time.sleep(0.02)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=100)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--delay-ms", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "vigie-cli", "-p", "vigie-testserver"], cwd=ROOT, check=True)
    server = subprocess.Popen([str(ROOT / "target/release/vigie-testserver"), "--delay-ms", str(args.delay_ms)],
                              stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().split()[-1]
    work = Path(tempfile.mkdtemp(prefix="vigie-agents-bench-"))
    (work / "agents.toml").write_text(TASK.format())
    script = f'[[steps:1:bash:{{"command": "echo turn {{turn}}; ls /work"}}]] [[step:{args.turns + 1}:submit:{{"answer": "done"}}]]'
    with open(work / "agents.jsonl", "w") as f:
        for i in range(args.samples):
            f.write(json.dumps({"id": f"a{i}", "input": f"Work. {script}", "target": "done"}) + "\n")
    ideal = (args.turns + 1) * args.delay_ms / 1000
    calls = args.samples * args.turns
    print(f"{args.samples} agents x {args.turns} bash turns + submit, server delay {args.delay_ms} ms: ideal wall {ideal:.2f} s, {calls} tool calls", flush=True)
    for round in range(args.rounds):
        logs = work / f"logs{round}"
        cmd = [str(ROOT / "target/release/vigie"), "eval", "agents.toml", "--model", "openai/mock", "--base-url", url,
               "--max-connections", str(args.samples), "--no-progress", "--log-dir", str(logs)]
        env = dict(os.environ, VIGIE_HOME=str(work / "home"))
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=subprocess.DEVNULL)
        seen = [0.0]
        poller = threading.Thread(target=own_cpu, args=(proc.pid, seen), daemon=True)
        poller.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        assert status == 0, f"vigie exited with {status}"
        total_cpu = usage.ru_utime + usage.ru_stime
        out = subprocess.run([str(ROOT / "target/release/vigie"), "log", "export", str(next(logs.glob("*.vlog"))), "--format", "jsonl"],
                             capture_output=True, text=True, check=True).stdout
        records = [json.loads(line) for line in out.splitlines()]
        steps = sum(s["tool"] == "bash" for r in records for s in r["agent"].get("steps", []))
        assert steps == calls, f"{steps} tool calls recorded, {calls} expected"
        assert all(r["agent"]["ended"] == "submitted" for r in records)
        print(f"round {round + 1}: wall {wall:6.2f} s ({wall / ideal:5.2f}x ideal)   "
              f"CPU per tool call {1000 * total_cpu / calls:6.2f} ms with helpers and commands, "
              f"{1000 * seen[0] / calls:5.2f} ms vigie alone   peak memory {usage.ru_maxrss / 1024:6.1f} MiB", flush=True)
    server.terminate()


if __name__ == "__main__":
    main()
