#!/usr/bin/env python3
"""Time to ready of `stack --ephemeral`: from spawning the process to reading its JSON
line (both services answering `/readyz`), over many runs; and the time from closing its
stdin to its exit (the folder removed).

    cargo build --release -p stack
    python3 bench/ephemeral_ready.py                    # 50 runs of target/release/stack
    python3 bench/ephemeral_ready.py --runs 200 --binary target/debug/stack
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]


def one_run(binary: str, tmp: str) -> tuple[float, float]:
    env = {"PATH": os.environ.get("PATH", ""), "TMPDIR": tmp, "RUST_LOG": "warn"}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [binary, "--ephemeral"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=tmp,
        env=env,
    )
    line = proc.stdout.readline()
    ready = time.perf_counter() - started
    if not line:
        raise SystemExit(f"{binary} exited with {proc.wait()} before its JSON line")
    urls = json.loads(line)
    assert set(urls) == {"auth_url", "posts_url", "jwks_url"}, urls
    stopping = time.perf_counter()
    proc.stdin.close()
    code = proc.wait(timeout=30)
    stopped = time.perf_counter() - stopping
    if code != 0:
        raise SystemExit(f"{binary} exited with {code}")
    left = [p for p in os.listdir(tmp) if p.startswith("stack-ephemeral-")]
    if left:
        raise SystemExit(f"left behind in {tmp}: {left}")
    return ready, stopped


def summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return (
        f"{name:<14} min {ms[0]:6.1f} ms   median {statistics.median(ms):6.1f} ms   "
        f"p95 {p95:6.1f} ms   max {ms[-1]:6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=str(REPO / "target" / "release" / "stack"))
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args()
    args.binary = str(pathlib.Path(args.binary).resolve())
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.warmup):
            one_run(args.binary, tmp)
        results = [one_run(args.binary, tmp) for _ in range(args.runs)]
    print(f"{args.binary}, {args.runs} runs after {args.warmup} warm-up runs")
    print(summary("to JSON line", [r for r, _ in results]))
    print(summary("stdin close", [s for _, s in results]))


if __name__ == "__main__":
    main()
