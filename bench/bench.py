#!/usr/bin/env python3
"""Benchmark of the two services on PostgreSQL, beside what PostgreSQL and bcrypt allow.

Builds release binaries, starts both services on fresh PostgreSQL databases, seeds 1 000
posts by 10 users with votes through the API, drives each scenario with wrk, runs pgbench
with the list page's own statement at the same concurrency, and prints every figure beside
its target. Standard library only; needs wrk, pgbench and psql on PATH.
"""

import argparse
import http.client
import os
import random
import re
import signal
import subprocess
import tempfile
import time

from common import BENCH, ROOT, TARGET, Client, log, psql

USERS = 10
POSTS_PER_USER = 100
VOTERS = 5  # users 0..4 cast the seeded votes; users 5..9 toggle votes in the vote scenario
PASSWORD = "bench-password"
# The rate limits stay on (each request is counted) but far above the load, which comes from
# one address: the figures include the limits' own cost without their 429s.
RATE_LIMITS_ON_HIGH = {f"RATE_LIMIT_{route}": "100000000/100000000"
                       for route in ("SIGNUP", "LOGIN", "REFRESH", "PASSWORD")}


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw)


class Service:
    def __init__(self, name, port, env, tmp):
        self.name, self.port = name, port
        self.env = {"PATH": os.environ["PATH"], "BIND_ADDR": f"127.0.0.1:{port}", "RUST_LOG": "warn"}
        self.env.update(env)
        self.log = open(os.path.join(tmp, f"{name}.log"), "ab")
        self.proc = None

    def start(self):
        """Starts the binary; returns seconds until /readyz answered 200."""
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [os.path.join(TARGET, "release", self.name)],
            env=self.env, stdout=self.log, stderr=self.log)
        deadline = started + 30
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    return time.monotonic() - started
            except OSError:
                pass
            time.sleep(0.002)
        raise SystemExit(f"{self.name} did not become ready; see its log")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=40)

    def rss_mib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")


def wrk(script, url, connections, threads, duration, env):
    out = run(["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
               "--timeout", "10s", "-s", os.path.join(BENCH, "wrk", script), url],
              env={**os.environ, **env}).stdout
    m = re.search(r"^BENCH (.*)$", out, re.M)
    fields = dict(kv.split("=") for kv in m.group(1).split())
    r = {k: int(v) for k, v in fields.items()}
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["timeout"] + r["status"]
    return r


def pgbench(url, script, clients, duration):
    out = run(["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "2",
               "-T", str(duration), "-f", os.path.join(BENCH, "sql", script), url]).stdout
    tps = float(re.search(r"tps = ([\d.]+)", out).group(1))
    lat = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
    return tps, lat


def probe(port, path, token, duration, interval=0.004):
    """A light client: one request every `interval` for `duration` seconds, so it measures
    the latency others see without loading the service itself. Returns p50/p99 in us."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies, errors = [], 0
    end = time.monotonic() + duration
    while time.monotonic() < end:
        start = time.monotonic()
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        resp.read()
        latencies.append((time.monotonic() - start) * 1e6)
        errors += resp.status != 200
        time.sleep(max(0.0, interval - (time.monotonic() - start)))
    latencies.sort()
    pick = lambda q: int(latencies[min(len(latencies) - 1, int(q * len(latencies)))])
    return {"p50_us": pick(0.50), "p99_us": pick(0.99), "errors": errors, "requests": len(latencies)}


def ms(us):
    return f"{us / 1000:.2f} ms"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pg", default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
                    help="PostgreSQL server (an admin database URL); bench_auth and bench_posts are (re)created there")
    ap.add_argument("--duration", type=int, default=10, help="seconds per wrk / pgbench run")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--skip-criterion", action="store_true", help="skip the token verification benchmark")
    args = ap.parse_args()

    cores = os.cpu_count()
    if not args.skip_build:
        log("building release binaries ...")
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "auth-service", "-p", "posts-service",
                        "--bins", "--example", "bcrypt_cost"], cwd=ROOT, check=True)
    base = args.pg.rsplit("/", 1)[0]
    for db in ("bench_auth", "bench_posts"):
        psql(args.pg, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        psql(args.pg, f"CREATE DATABASE {db}")
    auth_db, posts_db = f"{base}/bench_auth", f"{base}/bench_posts"

    tmp = tempfile.mkdtemp(prefix="posts-bench-")
    auth = Service("auth-service", 18101, {
        "DATABASE_URL": auth_db, "JWT_PRIVATE_KEY_FILE": os.path.join(tmp, "key.pem"), "JWT_GENERATE_KEY": "true", **RATE_LIMITS_ON_HIGH, "BCRYPT_COST": "12"}, tmp)
    posts = Service("posts-service", 18100, {
        "DATABASE_URL": posts_db, "JWT_JWKS_URL": "http://127.0.0.1:18101/.well-known/jwks.json"}, tmp)
    results = {}
    try:
        # First start migrates; the second start is the one measured (migrated database).
        auth.start(); posts.start(); posts.stop(); auth.stop()
        results["auth_start"] = auth.start()
        results["posts_start"] = posts.start()
        time.sleep(0.5)
        results["auth_rss_idle"], results["posts_rss_idle"] = auth.rss_mib(), posts.rss_mib()

        log("seeding 10 users, 1 000 posts and their votes through the API ...")
        a, p = Client(18101), Client(18100)
        tokens, user_ids = [], []
        for i in range(USERS):
            status, body = a.call("POST", "/users/", {"email": f"bench{i}@example.com", "password": PASSWORD})
            assert status == 201, (status, body)
            user_ids.append(body["id"])
            status, body = a.call("POST", "/login", {"username": f"bench{i}@example.com", "password": PASSWORD}, form=True)
            assert status == 200, (status, body)
            tokens.append(body["access_token"])
        post_ids = []
        for i in range(USERS * POSTS_PER_USER):
            status, body = p.call("POST", "/posts/", {"title": f"post {i} by user {i % USERS}",
                                                      "content": "seeded for the benchmark " * 8},
                                  token=tokens[i % USERS])
            assert status == 201, (status, body)
            post_ids.append(body["id"])
        rng = random.Random(42)
        votes = 0
        for post in post_ids:
            for voter in rng.sample(range(VOTERS), rng.randint(0, VOTERS)):
                status, _ = p.call("POST", "/vote/", {"post_id": post, "dir": 1}, token=tokens[voter])
                assert status == 201
                votes += 1
        log(f"seeded {len(post_ids)} posts, {votes} votes")
        # Fresh statistics, as a database that has been running a while has them.
        psql(posts_db, "VACUUM ANALYZE")
        psql(auth_db, "VACUUM ANALYZE")
        explain = run(["psql", posts_db, "-At", "-c",
                       "EXPLAIN SELECT posts.id, (SELECT count(*) FROM votes WHERE votes.post_id = posts.id) "
                       "FROM posts INNER JOIN authors ON posts.owner_id = authors.id WHERE posts.id = ANY "
                       "(SELECT posts.id FROM posts WHERE posts.published = true OR posts.owner_id = 1 "
                       "ORDER BY posts.id DESC LIMIT 10 OFFSET 500) ORDER BY posts.id DESC"]).stdout

        tokens_file = os.path.join(tmp, "tokens.txt")
        with open(tokens_file, "w") as f:
            f.write("\n".join(tokens) + "\n")

        env = {"BENCH_DIR": BENCH, "BENCH_TOKENS": tokens_file, "BENCH_FIRST_POST": str(post_ids[0]),
               "BENCH_FIRST_USER": str(user_ids[0]), "BENCH_USERS": str(USERS), "BENCH_VOTERS": str(USERS - VOTERS),
               "BENCH_VOTER_OFFSET": str(VOTERS), "BENCH_CONNECTIONS": str(args.connections)}
        c, d = args.connections, args.duration
        posts_url, auth_url = "http://127.0.0.1:18100", "http://127.0.0.1:18101"

        log("pgbench: the list page's statement ...")
        results["pg_page"] = pgbench(posts_db, "page.sql", c, d)
        results["pg_naive"] = pgbench(posts_db, "naive.sql", c, d)
        log("wrk: list, get, create, vote, list at 1 000 connections ...")
        results["list"] = wrk("list.lua", posts_url, c, 2, d, env)
        results["get"] = wrk("get.lua", posts_url, c, 2, d, env)
        results["vote"] = wrk("vote.lua", posts_url, c, c, d, env)
        results["list1000"] = wrk("list.lua", posts_url, 1000, 2, d, env)
        results["create"] = wrk("create.lua", posts_url, c, 2, d, env)  # last: it adds posts

        log("bcrypt bound, login, and the auth service during a login storm ...")
        t_hash = float(run([os.path.join(TARGET, "release", "examples", "bcrypt_cost"), "12", "10"]).stdout)
        results["bcrypt_bound"] = cores / t_hash
        results["user_idle"] = probe(18101, f"/users/{user_ids[0]}", tokens[0], d)
        storm = subprocess.Popen(["wrk", "-t", "2", "-c", str(c), "-d", f"{d + 2}s", "--timeout", "10s", "-s",
                                  os.path.join(BENCH, "wrk", "login.lua"), auth_url],
                                 env={**os.environ, **env}, stdout=subprocess.PIPE, text=True)
        time.sleep(1)
        results["user_storm"] = probe(18101, f"/users/{user_ids[0]}", tokens[0], d)
        out = storm.communicate()[0]
        fields = dict(kv.split("=") for kv in re.search(r"^BENCH (.*)$", out, re.M).group(1).split())
        login = {k: int(v) for k, v in fields.items()}
        login["rps"] = login["requests"] / (login["duration_us"] / 1e6)
        login["errors"] = sum(login[k] for k in ("connect", "read", "write", "timeout", "status"))
        results["login"] = login
        time.sleep(1)

        log("refresh: one session per connection, each refreshing along its own chain ...")
        refresh_file = os.path.join(tmp, "refresh.txt")
        a = Client(18101)  # a fresh connection: the seeding one idled past the keep-alive
        with open(refresh_file, "w") as f:
            for i in range(c):
                status, body = a.call("POST", "/login", {"username": f"bench{i % USERS}@example.com",
                                                         "password": PASSWORD}, form=True)
                assert status == 200, (status, body)
                f.write(body["refresh_token"] + "\n")
        results["refresh"] = wrk("refresh.lua", auth_url, c, c, d, {**env, "BENCH_REFRESH_TOKENS": refresh_file})
        results["auth_rss_after"], results["posts_rss_after"] = auth.rss_mib(), posts.rss_mib()
    finally:
        posts.stop()
        auth.stop()

    verify = {} if args.skip_criterion else criterion_verify()
    report(results, cores, t_hash, explain, args, verify)


def criterion_verify():
    """Runs shared-claims' criterion benchmark; returns {name: median microseconds}."""
    log("criterion: token verification ...")
    out = subprocess.run(["cargo", "bench", "--locked", "-p", "shared-claims", "--bench", "verify"],
                         cwd=ROOT, check=True, text=True, capture_output=True).stdout
    found = {}
    for name, value, unit in re.findall(r"^(\S.*?)\s*\n?\s+time:\s+\[\S+ \S+ (\S+) (\S+) ", out, re.M):
        scale = {"ns": 1e-3, "µs": 1.0, "us": 1.0, "ms": 1e3}[unit]
        found[name.strip()] = float(value) * scale
    return found


def report(r, cores, t_hash, explain, args, verify):
    c = args.connections
    rows = []

    def row(name, value, target, ok):
        rows.append((name, value, target, "ok" if ok else "MISSED"))

    def http_row(name, key, extra_target="", p99_limit=None):
        x = r[key]
        ok = x["errors"] == 0 and (p99_limit is None or x["p99_us"] <= p99_limit * 1000)
        row(name, f"{x['rps']:8.0f} req/s  p50 {ms(x['p50_us'])}  p99 {ms(x['p99_us'])}  errors {x['errors']}",
            extra_target or "no errors", ok)

    page_tps = r["pg_page"][0]
    list_ratio = r["list"]["rps"] / page_tps
    http_row(f"list, {c} connections", "list", "p99 <= 20 ms, no errors", 20)
    row("list / pgbench page statement", f"{list_ratio:8.0%}  (pgbench {page_tps:.0f} tps, naive shape {r['pg_naive'][0]:.0f} tps)",
        ">= 40%", list_ratio >= 0.40)
    http_row("list, 1000 connections", "list1000", "no errors, no stall")
    http_row(f"get one, {c} connections", "get")
    http_row(f"create, {c} connections", "create")
    http_row(f"vote toggle, {c} connections", "vote")
    login_ratio = r["login"]["rps"] / r["bcrypt_bound"]
    http_row(f"login (bcrypt 12), {c} connections", "login")
    row("login / bcrypt bound", f"{login_ratio:8.0%}  (bound {r['bcrypt_bound']:.1f}/s = {cores} cores / {t_hash * 1000:.0f} ms)",
        ">= 85%", login_ratio >= 0.85)
    http_row(f"refresh (rotation), {c} connections", "refresh")
    idle, storm = r["user_idle"]["p99_us"], r["user_storm"]["p99_us"]
    row("auth GET /users/{id} p99 (probe), idle -> storm", f"{ms(idle)} -> {ms(storm)}  ({storm / max(idle, 1):.1f}x)",
        "<= 2x idle", storm <= 2 * idle and r["user_storm"]["errors"] == 0)
    for svc in ("auth", "posts"):
        row(f"{svc} start to ready (migrated db)", f"{r[svc + '_start'] * 1000:8.0f} ms", "<= 200 ms", r[svc + "_start"] <= 0.2)
        row(f"{svc} memory idle / after load", f"{r[svc + '_rss_idle']:8.1f} MiB / {r[svc + '_rss_after']:.1f} MiB",
            "<= 20 MiB idle", r[svc + "_rss_idle"] <= 20)

    for name, us in verify.items():
        target = "<= 30 us" if "EdDSA" in name else "(for comparison)"
        row(f"token: {name}", f"{us:8.2f} us", target, us <= 30 or "EdDSA" not in name)
    width = max(len(x[0]) for x in rows)
    print(f"\nmachine: {cores} cores, {os.uname().release}; PostgreSQL at {args.pg.rsplit('@', 1)[-1]}; "
          f"{args.duration} s per run\n")
    for name, value, target, verdict in rows:
        print(f"{name:<{width}}  {value:<70}  target {target:<24} {verdict}")
    print("\nplan of the page statement (PostgreSQL):")
    print("  " + explain.strip().replace("\n", "\n  "))


if __name__ == "__main__":
    main()
