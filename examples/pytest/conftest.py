"""Fixtures that run the auth + posts stack as a subprocess for each test.

`stack --ephemeral` starts both services on free loopback ports with their data in a
temporary folder, prints one JSON line with their URLs once both answer, and serves until
its stdin closes (or SIGTERM / SIGINT), removing the folder as it stops. So a test:

    def test_something(stack):
        requests.post(f"{stack.auth_url}/users/", json={...})

The binary is `$STACK_BIN`, else `target/release/stack`, else `target/debug/stack` of this
repository (`cargo build --release -p stack`).
"""

import json
import os
import pathlib
import select
import subprocess
from dataclasses import dataclass

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 30


def stack_binary() -> str:
    explicit = os.environ.get("STACK_BIN")
    if explicit:
        return explicit
    for profile in ("release", "debug"):
        candidate = REPO / "target" / profile / "stack"
        if candidate.is_file():
            return str(candidate)
    raise RuntimeError(
        "no stack binary: run `cargo build --release -p stack` or set STACK_BIN"
    )


@dataclass
class Stack:
    auth_url: str
    posts_url: str
    jwks_url: str
    process: subprocess.Popen

    def stop(self) -> int:
        """Closes the stack's stdin (it stops and removes its folder); returns its exit code."""
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            return self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def start_stack(workdir: pathlib.Path, args=(), env=None) -> Stack:
    """Starts `stack --ephemeral` and waits for its JSON line."""
    log = open(workdir / "stack.log", "wb")
    process = subprocess.Popen(
        [stack_binary(), "--ephemeral", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        # Logs go to a file: a pipe nobody reads would fill up and block the stack.
        stderr=log,
        # Run away from any .env file of the current directory.
        cwd=workdir,
        env={**os.environ, **(env or {})},
    )
    log.close()
    ready, _, _ = select.select([process.stdout], [], [], READY_TIMEOUT_SECONDS)
    line = process.stdout.readline() if ready else b""
    if not line:
        process.kill()
        process.wait()
        output = (workdir / "stack.log").read_text(errors="replace")
        raise RuntimeError(f"stack --ephemeral did not start (exit {process.returncode}):\n{output}")
    urls = json.loads(line)
    return Stack(urls["auth_url"], urls["posts_url"], urls["jwks_url"], process)


@pytest.fixture
def start(tmp_path):
    """A factory: `start(args=[...], env={...})` runs a stack with those options, stopped
    after the test."""
    started = []

    def _start(args=(), env=None) -> Stack:
        workdir = tmp_path / f"stack-{len(started)}"
        workdir.mkdir()
        stack = start_stack(workdir, args, env)
        started.append(stack)
        return stack

    yield _start
    for stack in started:
        assert stack.stop() == 0, "the stack stops cleanly when its stdin closes"


@pytest.fixture
def stack(start) -> Stack:
    """A fresh, empty stack for one test."""
    return start()
