#!/usr/bin/env python3
"""Shutdown stress: SIGTERM each service under load, N times, on PostgreSQL over TLS.

Each cycle starts the release binary on a migrated, seeded database (connections forced onto
TLS with `sslmode=require`, checked in `pg_stat_ssl`), puts load on it with wrk (logins on
auth-service, authenticated list pages on posts-service), sends SIGTERM at a random moment
and records how the process ended: exit code or signal. A crash leaves a core file in the
cycle's directory (core dumps are enabled for the service; the kernel's `core_pattern` must
name a file, not a missing handler), which is kept and named in the summary.

Prints a summary per service and exits non-zero when any cycle ended other than with exit
status 0. Standard library only; needs wrk and psql on PATH.

The defaults make a crash at exit likely where one is possible: SIGTERM early in the load, while
the pool is still opening connections (TLS handshakes, SCRAM), with more clients than
connections, and no grace, so queries still run when `main` returns. With these settings the
services built before OpenSSL's exit-time clean-up was disabled died of SIGSEGV in about one
cycle in fifteen.
"""

import argparse
import collections
import http.client
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse

from common import BENCH, ROOT, Client, log, psql

USERS = 10
POSTS = 200
PASSWORD = "bench-password"  # what bench/wrk/login.lua sends
PORTS = {"posts": 0, "auth": 1, "keys": 2}  # offsets from --port


def with_query(url, **params):
    sep = "&" if "?" in url else "?"
    return url + sep + urllib.parse.urlencode(params)


def enable_core_dumps():
    """`ulimit -c unlimited` (or as far as the hard limit allows) for the service."""
    _, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


class Service:
    """One run of a service binary, started in its own directory (where a core lands)."""

    def __init__(self, name, port, env, workdir, profile="release"):
        self.name, self.port, self.workdir, self.profile = name, port, workdir, profile
        self.env = {"PATH": os.environ["PATH"], "BIND_ADDR": f"127.0.0.1:{port}", "RUST_LOG": "warn"}
        self.env.update(env)
        self.proc = None
        self.log_path = os.path.join(workdir, f"{name}.log")

    def start(self, timeout=30):
        os.makedirs(self.workdir, exist_ok=True)
        log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen([os.path.join(ROOT, "target", self.profile, self.name)],
                                     env=self.env, cwd=self.workdir, stdout=log_file, stderr=log_file,
                                     preexec_fn=enable_core_dumps)
        log_file.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"{self.name} exited at start ({self.proc.returncode}); see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.01)
        raise SystemExit(f"{self.name} did not become ready; see {self.log_path}")

    def terminate(self, timeout):
        """SIGTERM; returns the exit code (>= 0) or the negated signal number."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "hung"


def tls_connections(admin_url, database):
    """(connections, of which over TLS) to `database`, from pg_stat_ssl."""
    row = psql(admin_url, "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a "
                          f"JOIN pg_stat_ssl s USING (pid) WHERE a.datname = '{database}'")
    total, tls = row.split("|")
    return int(total), int(tls)


def describe(status):
    if status == "hung":
        return "hung (killed)"
    if status < 0:
        return f"signal {signal.Signals(-status).name}"
    return f"exit {status}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=os.environ.get("BENCH_POSTGRES_URL",
                                                   "postgres://postgres:postgres@127.0.0.1:5432/postgres"),
                    help="PostgreSQL server (an admin database URL); the databases of --name are (re)created there")
    ap.add_argument("--service", choices=["auth", "posts", "both"], default="both")
    ap.add_argument("--cycles", type=int, default=200, help="SIGTERMs per service")
    ap.add_argument("--connections", type=int, default=128, help="wrk connections")
    ap.add_argument("--pool-size", type=int, default=64, help="DATABASE_POOL_SIZE of the service under test")
    ap.add_argument("--bcrypt-threads", type=int, default=4, help="BCRYPT_THREADS of auth-service")
    ap.add_argument("--bcrypt-cost", type=int, default=4,
                    help="BCRYPT_COST (low: more logins, so more database work, per second)")
    ap.add_argument("--workers", type=int, default=4, help="WORKERS (HTTP worker threads)")
    ap.add_argument("--grace", type=int, default=0,
                    help="SHUTDOWN_GRACE_SECONDS (0: requests still running are abandoned, as when the grace runs out)")
    ap.add_argument("--min-load", type=float, default=0.05, help="shortest load before SIGTERM, seconds")
    ap.add_argument("--max-load", type=float, default=0.6, help="longest load before SIGTERM, seconds")
    ap.add_argument("--seed", type=int, default=None, help="random seed (default: time)")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--profile", choices=["release", "debug"], default="release",
                    help="which build of the binaries to run (--skip-build with debug: the test suite's)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory even without a crash")
    ap.add_argument("--name", default="stress",
                    help="prefix of the two databases (NAME_auth, NAME_posts): runs side by side need their own")
    ap.add_argument("--port", type=int, default=18200, help="first of the three ports used")
    args = ap.parse_args()

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    with open("/proc/sys/kernel/core_pattern") as f:
        core_pattern = f.read().strip()
    if core_pattern.startswith("|"):
        log(f"note: core_pattern pipes cores to {core_pattern.split()[0][1:]}; a crash may leave no core "
            "here (set a file pattern, e.g. `echo core > /proc/sys/kernel/core_pattern`)")
    rng = random.Random(args.seed if args.seed is not None else time.time_ns())

    if not args.skip_build:
        log("building release binaries ...")
        profile_flag = ["--release"] if args.profile == "release" else []
        subprocess.run(["cargo", "build", *profile_flag, "--locked", "-p", "auth-service", "-p", "posts-service",
                        "--bins"], cwd=ROOT, check=True)

    base = args.pg.rsplit("/", 1)[0]
    auth_name, posts_name = f"{args.name}_auth", f"{args.name}_posts"
    for db in (auth_name, posts_name):
        psql(args.pg, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        psql(args.pg, f"CREATE DATABASE {db}")
    auth_db = with_query(f"{base}/{auth_name}", sslmode="require")
    posts_db = with_query(f"{base}/{posts_name}", sslmode="require")
    AUTH_PORT, POSTS_PORT, KEYS_PORT = (args.port + PORTS[k] for k in ("auth", "posts", "keys"))

    tmp = tempfile.mkdtemp(prefix="shutdown-stress-")
    key = os.path.join(tmp, "key.pem")
    tuning = {"DATABASE_POOL_SIZE": str(args.pool_size), "SHUTDOWN_GRACE_SECONDS": str(args.grace)}
    if args.workers:
        tuning["WORKERS"] = str(args.workers)
    auth_env = {"DATABASE_URL": auth_db, "JWT_PRIVATE_KEY_FILE": key, "JWT_GENERATE_KEY": "true", "BCRYPT_COST": str(args.bcrypt_cost),
                "BCRYPT_THREADS": str(args.bcrypt_threads), "LOGIN_MAX_FAILURES": "1000", **tuning}
    posts_env = {"DATABASE_URL": posts_db, "JWT_JWKS_URL": f"http://127.0.0.1:{KEYS_PORT}/.well-known/jwks.json",
                 **tuning}

    # A long-running auth-service publishes the keys for posts-service's cycles (and is where
    # the seeding signs up); the auth cycles run a second one on the same database and key.
    keys = Service("auth-service", KEYS_PORT, {**auth_env, "DATABASE_POOL_SIZE": "4"}, os.path.join(tmp, "keys"),
                   args.profile)
    results = collections.OrderedDict()
    crashed = []
    try:
        keys.start()
        posts = Service("posts-service", POSTS_PORT, posts_env, os.path.join(tmp, "seed"), args.profile)
        posts.start()
        log(f"seeding {USERS} users and {POSTS} posts through the API ...")
        a, p = Client(KEYS_PORT), Client(POSTS_PORT)
        tokens = []
        for i in range(USERS):
            email = f"bench{i}@example.com"  # login.lua's users
            status, body = a.call("POST", "/users/", {"email": email, "password": PASSWORD})
            assert status == 201, (status, body)
            status, body = a.call("POST", "/login", {"username": email, "password": PASSWORD}, form=True)
            assert status == 200, (status, body)
            tokens.append(body["access_token"])
        for i in range(POSTS):
            status, body = p.call("POST", "/posts/", {"title": f"post {i}", "content": "stress " * 20,
                                                      "published": True}, token=tokens[i % USERS])
            assert status == 201, (status, body)
        posts.terminate(30)
        tokens_file = os.path.join(tmp, "tokens.txt")
        with open(tokens_file, "w") as f:
            f.write("\n".join(tokens) + "\n")
        wrk_env = {**os.environ, "BENCH_DIR": BENCH, "BENCH_TOKENS": tokens_file, "BENCH_USERS": str(USERS)}

        plan = [("auth-service", AUTH_PORT, auth_env, "login.lua", auth_name),
                ("posts-service", POSTS_PORT, posts_env, "list.lua", posts_name)]
        for name, port, env, script, database in plan:
            if args.service != "both" and not name.startswith(args.service):
                continue
            counts = collections.Counter()
            tls_checked = False
            started = time.monotonic()
            log(f"{name}: {args.cycles} cycles, {args.connections} connections, pool {args.pool_size}, "
                f"grace {args.grace} s, SIGTERM after {args.min_load}-{args.max_load} s of load")
            for cycle in range(1, args.cycles + 1):
                workdir = os.path.join(tmp, f"{name}-{cycle:04d}")
                svc = Service(name, port, env, workdir, args.profile)
                svc.start()
                load = subprocess.Popen(["wrk", "-t", "2", "-c", str(args.connections), "-d", "60s",
                                         "--timeout", "10s", "-s", os.path.join(BENCH, "wrk", script),
                                         f"http://127.0.0.1:{port}"],
                                        env=wrk_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(rng.uniform(args.min_load, args.max_load))
                if not tls_checked:
                    total, tls = tls_connections(args.pg, database)
                    if total == 0 or tls != total:
                        raise SystemExit(f"{name}: {tls} of {total} database connections use TLS; expected all")
                    log(f"{name}: {tls} of {total} database connections use TLS (pg_stat_ssl)")
                    tls_checked = True
                status = svc.terminate(args.grace + 30)
                load.terminate()
                load.wait()
                counts[describe(status)] += 1
                cores = [f for f in os.listdir(workdir) if f.startswith("core")]
                if status != 0:
                    crashed.append((name, cycle, describe(status), [os.path.join(workdir, c) for c in cores],
                                    svc.log_path))
                    log(f"{name} cycle {cycle}: {describe(status)}; cores: {cores or 'none'}; log {svc.log_path}")
                else:
                    shutil.rmtree(workdir, ignore_errors=True)
                if cycle % 25 == 0:
                    log(f"{name}: {cycle} cycles, {dict(counts)}")
            results[name] = (counts, time.monotonic() - started)
    finally:
        if keys.proc and keys.proc.poll() is None:
            keys.terminate(30)

    print(f"\nshutdown stress on PostgreSQL over TLS (sslmode=require), {args.connections} wrk connections, "
          f"pool {args.pool_size}, grace {args.grace} s, SIGTERM after {args.min_load}-{args.max_load} s of load")
    for name, (counts, seconds) in results.items():
        total = sum(counts.values())
        ok = counts.get("exit 0", 0)
        other = sum(n for k, n in counts.items() if k.startswith("exit ") and k != "exit 0")
        signals = sum(n for k, n in counts.items() if not k.startswith("exit "))
        print(f"{name:<14} {total} cycles in {seconds:.0f} s: exit 0: {ok}, other exit codes: {other}, "
              f"signals/hangs: {signals}  {dict(counts)}")
    for name, cycle, what, cores, log_path in crashed:
        print(f"  {name} cycle {cycle}: {what}; core: {', '.join(cores) or 'none'}; log: {log_path}")
    if crashed or args.keep:
        print(f"work directory kept: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(1 if crashed else 0)


if __name__ == "__main__":
    main()
