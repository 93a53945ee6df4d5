#!/usr/bin/env python3
"""Scale benchmark: posts-service at 1 000 000 posts, beside what PostgreSQL alone does.

PostgreSQL: creates a fresh database, migrates it with the release binary, seeds 10 000
authors, 1 000 000 posts and about 3 000 000 votes with SQL (bench/sql/scale-*.sql, timed),
starts auth-service and posts-service (release). Right after the load (autovacuum held off
on the benchmark's tables, so no statistics and no visibility map yet) it measures every
search shape; then VACUUM ANALYZE, and every scenario again: the first page, a cursor page at
depth ~500 000, a skip page at depth 10 000, and searches for a rare word, a common word, no
match, a word found only in other users' drafts (10 % of the posts), a word found only in the
oldest 1 000 posts, and cursor pages of the common and the oldest-only word. Each is measured
by one client (p50/p99) and by wrk at N connections beside pgbench running the service's own
statements with the same values. Then post creation with the search indexes of this version,
with those of the previous one (the all-titles trigram index) and with none.

SQLite: the same data in a file, one client: every search shape and a deep cursor page, then
post creation with this version's FTS5 index, the previous one's, and none.

Prints every figure beside its target, the plans of the statements, and keeps the raw wrk and
pgbench output in the run's directory. Reuses bench.py's pieces; standard library only; needs
wrk, pgbench and psql on PATH, and a PostgreSQL superuser (the seed skips foreign-key triggers).
"""

import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the work tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as base  # noqa: E402  (bench.py: Service, Client, wrk, probe, run, log)
from bench import RATE_LIMITS_ON_HIGH  # noqa: E402

ROOT, BENCH, log, run = base.ROOT, base.BENCH, base.log, base.run
USERS = 10
POSTS = 1_000_000
MAX_ID = 2**63 - 1
PG_POSTS_PORT, PG_AUTH_PORT, SQLITE_POSTS_PORT = 18200, 18201, 18210

# name, word, pgbench script of the service's statements for it: "window" when the newest
# 5 000 posts below the cursor fill the page, "older" when the older matches are looked up.
SEARCHES = [
    ("search, rare word (10 posts)", "zebra", "scale-search-older.sql"),
    ("search, common word (5 %)", "rust", "scale-search-window.sql"),
    ("search, no match", "nosuchword", "scale-search-older.sql"),
    ("search, word only in others' drafts (10 %)", "secret", "scale-search-older.sql"),
    ("search, word only in the oldest 1 000 posts", "ancient", "scale-search-older.sql"),
    ("search, word in 0.2 % of posts, spread evenly", "quartz", "scale-search-older.sql"),
]
# The migrations of the search indexes, newest first: reverting them one by one measures
# creation with the previous version's index, then with none.
SEARCH_MIGRATIONS = ["2026-12-04-000002_search_published", "2026-11-27-000001_search_index"]


def psql(url, *args, **kw):
    return run(["psql", url, "-v", "ON_ERROR_STOP=1", "-q", *args], **kw).stdout


def psql_value(url, sql):
    return run(["psql", url, "-At", "-c", sql]).stdout.strip()


def seed_postgres(url, raw):
    """Seeds the migrated database, as a bulk load leaves it: no VACUUM, no ANALYZE, and
    autovacuum held off on its tables until `settle_postgres`. Returns (seconds, {table: rows})."""
    started = time.monotonic()
    for table in ("authors", "posts", "votes"):
        psql(url, "-c", f"ALTER TABLE {table} SET (autovacuum_enabled = off)")
    secondary = psql_value(url, """
        SELECT json_agg(json_build_array(indexname, indexdef)) FROM pg_indexes
        WHERE schemaname = 'public' AND tablename IN ('authors', 'posts', 'votes')
          AND indexname NOT IN (SELECT conname FROM pg_constraint)""")
    indexes = json.loads(secondary) if secondary else []
    for name, _ in indexes:
        psql(url, "-c", f'DROP INDEX "{name}"')
    psql(url, "-f", os.path.join(BENCH, "sql", "scale-seed.sql"))
    # The votes load beside the posts' index builds: two cores busy instead of one.
    jobs = [subprocess.Popen(["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-f",
                              os.path.join(BENCH, "sql", "scale-votes.sql")],
                             stdout=raw, stderr=subprocess.STDOUT)]
    for _, definition in indexes:
        jobs.append(subprocess.Popen(["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c",
                                      "SET maintenance_work_mem = '512MB'", "-c", definition],
                                     stdout=raw, stderr=subprocess.STDOUT))
    for job in jobs:
        if job.wait() != 0:
            raise SystemExit(f"seeding failed: {job.args}")
    seconds = time.monotonic() - started
    counts = {t: int(psql_value(url, f"SELECT count(*) FROM {t}")) for t in ("authors", "posts", "votes")}
    return seconds, counts


def settle_postgres(url):
    """VACUUM ANALYZE, and autovacuum back on; returns seconds."""
    started = time.monotonic()
    psql(url, "-c", "VACUUM ANALYZE")
    for table in ("authors", "posts", "votes"):
        psql(url, "-c", f"ALTER TABLE {table} RESET (autovacuum_enabled)")
    return time.monotonic() - started


def seed_sqlite(path):
    """The same shape of data in a migrated SQLite file (Python's sqlite3; its triggers and
    the FTS index dropped during the load and rebuilt after). Returns seconds."""
    started = time.monotonic()
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript("PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF;")
    triggers = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'posts'").fetchall()
    words = ["the", "a", "new", "how", "why", "my", "first", "notes", "on", "post", "api", "web",
             "python", "fastapi", "server", "database", "query", "index", "cache", "async", "test",
             "deploy", "docker", "guide", "tips", "review", "update", "week", "today", "release",
             "design", "simple", "fast", "slow", "bug", "fix", "feature", "story", "team", "data",
             "cloud", "linux", "code", "learning", "project", "service", "user", "login", "token",
             "vote", "morning", "coffee", "garden", "travel", "music", "book", "movie", "city",
             "river", "mountain", "lake", "winter", "summer", "spring", "autumn", "night", "sunday",
             "weekend", "recipe", "bread", "tea", "chess", "game", "match", "goal", "score", "run",
             "walk", "bike", "photo", "camera", "art", "paint", "song", "piano", "guitar", "shop",
             "market", "price", "plan", "idea", "question", "answer", "problem", "solution", "life",
             "work", "home", "family", "friend", "école", "café", "straße", "naïve", "über"]
    db.execute("BEGIN")
    for name, _ in triggers:
        db.execute(f'DROP TRIGGER "{name}"')
    db.execute("CREATE TEMP TABLE vocabulary (i INTEGER PRIMARY KEY, w TEXT)")
    db.executemany("INSERT INTO vocabulary VALUES (?, ?)", list(enumerate(words)))
    n = len(words)
    # Refers to the row (g.i), so SQLite draws a word per row rather than once per statement.
    pick = f"(SELECT w FROM vocabulary AS v WHERE v.i = (abs(random()) + 0 * g.i) % {n})"
    db.execute("""INSERT INTO authors (id, email, created_at)
        WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < 10000)
        SELECT i, 'author' || i || '@example.com', datetime('2025-01-01', '+' || i || ' minutes') FROM g""")
    db.execute(f"""INSERT INTO posts (id, title, title_search, content, published, created_at, owner_id)
        WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {POSTS}),
        titles AS MATERIALIZED (SELECT i, {pick} || ' ' || {pick} || ' ' || {pick}
                          || CASE WHEN i % 20 = 7 THEN ' Rust' ELSE '' END || ' ' || {pick}
                          || CASE WHEN i % 100000 = 4242 THEN ' zebra' ELSE '' END
                          || CASE WHEN i % 10 = 3 AND (i * 7919) % 10000 >= 10 THEN ' secret' ELSE '' END
                          || CASE WHEN i <= 1000 THEN ' ancient' ELSE '' END
                          || CASE WHEN i % 500 = 17 THEN ' quartz' ELSE '' END || ' ' || {pick}
                          || CASE WHEN i % 3 = 0 THEN ' ' || {pick} ELSE '' END AS t FROM g)
        SELECT i, t, lower(t),
               'Seeded post ' || i || ' of the scale benchmark, a line of body text like many others.',
               i % 10 <> 3, datetime('2025-06-01', '+' || (i * 10) || ' seconds'), 1 + (i * 7919) % 10000
        FROM titles""")
    db.execute(f"""INSERT INTO votes (post_id, user_id)
        WITH RECURSIVE g(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM g WHERE i < {POSTS}),
        j(k) AS (VALUES (1), (2), (3), (4), (5), (6))
        SELECT i, 1 + (i * 7919 + k * 104729) % 10000 FROM g, j WHERE k <= i % 7 ORDER BY i, k""")
    # As the migration fills it: the published titles, merged into one segment.
    db.execute("INSERT INTO posts_published_fts (rowid, title_search) SELECT id, title_search FROM posts WHERE published")
    db.execute("INSERT INTO posts_published_fts (posts_published_fts) VALUES ('optimize')")
    for _, sql in triggers:
        db.execute(sql)
    db.execute("COMMIT")
    db.execute("ANALYZE")
    db.close()
    return time.monotonic() - started


def page(client, path, token):
    """GET a list page: (ids, absolute-path URL of its next page or None)."""
    client.conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    resp = client.conn.getresponse()
    body = json.loads(resp.read())
    assert resp.status == 200, (path, resp.status, body)
    link = resp.getheader("Link")
    nxt = None
    if link:
        target = re.fullmatch(r'<([^>]*)>; rel="next"', link).group(1)
        nxt = urllib.parse.urljoin(path, target)
    return [p["Post"]["id"] for p in body], nxt


def cursors_after(port, token, start, count):
    """The cursor URLs of the `count` pages that follow page `start` (a path), and the range
    of the ids their pages start below."""
    client = base.Client(port)
    ids, nxt = page(client, start, token)
    urls, befores = [], []
    for _ in range(count):
        urls.append(nxt)
        befores.append(ids[-1])
        ids, nxt = page(client, nxt, token)
    return urls, min(befores), max(befores)


def wrk_paths(paths, port, connections, duration, env, tmp, raw, label):
    urls_file = os.path.join(tmp, "urls.txt")
    with open(urls_file, "w") as f:
        f.write("\n".join(paths) + "\n")
    out = run(["wrk", "-t", "2", "-c", str(connections), "-d", f"{duration}s", "--timeout", "10s",
               "-s", os.path.join(BENCH, "wrk", "urls.lua"), f"http://127.0.0.1:{port}"],
              env={**os.environ, **env, "BENCH_URLS": urls_file}).stdout
    raw.write(f"\n===== wrk: {label}: {paths[0]} ({len(paths)} paths)\n{out}")
    return parse_wrk(out)


def parse_wrk(out):
    fields = dict(kv.split("=") for kv in re.search(r"^BENCH (.*)$", out, re.M).group(1).split())
    r = {k: int(v) for k, v in fields.items()}
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["timeout"] + r["status"]
    return r


def pgbench(url, script, mode, defines, clients, duration, raw, label):
    cmd = ["pgbench", "-n", "-M", mode, "-c", str(clients), "-j", "2", "-T", str(duration),
           "-f", os.path.join(BENCH, "sql", script)]
    for k, v in defines.items():
        cmd += ["-D", f"{k}={v}"]
    out = run(cmd + [url]).stdout
    raw.write(f"\n===== pgbench: {label}: {script} -M {mode} {defines}\n{out}")
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


def literal(v):
    return str(v) if re.fullmatch(r"-?\d+|true|false", str(v)) else "'" + str(v).replace("'", "''") + "'"


def script_statements(script):
    """A pgbench script's statements in order: ("sql", text), ("gset", text) for one whose
    row sets variables, ("if", expression) and ("endif", None); comments and \set dropped."""
    out, cur = [], []
    for line in open(os.path.join(BENCH, "sql", script)).read().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("--", "\\set")):
            continue
        if stripped.startswith("\\if"):
            out.append(("if", stripped[3:].strip()))
        elif stripped.startswith("\\endif"):
            out.append(("endif", None))
        elif stripped.endswith("\\gset"):
            cur.append(line[:line.rindex("\\gset")])
            out.append(("gset", "\n".join(cur)))
            cur = []
        else:
            cur.append(line)
            if stripped.endswith(";"):
                out.append(("sql", "\n".join(cur).rstrip().rstrip(";")))
                cur = []
    return out


def explain(url, script, defines):
    """EXPLAIN ANALYZE of each statement of a pgbench script with its values as literals (the
    plans unnamed statements get), `me` = 1 and the cursor at `hi`; a statement that sets
    variables (\gset) is also run, to give the next ones their values."""
    values = {"me": "1", "before": str(defines["hi"]), **{k: v for k, v in defines.items() if k not in ("lo", "hi")}}
    plans, skipping = [], False

    def bind(sql):
        for k, v in sorted(values.items(), key=lambda kv: -len(kv[0])):
            sql = re.sub(rf"(?<!:):{k}\b", lambda _: literal(v), sql)
        return sql

    for kind, text in script_statements(script):
        if kind == "endif":
            skipping = False
            continue
        if kind == "if":
            name, op, bound = re.fullmatch(r":(\w+)\s*(>)\s*(\d+)", text).groups()
            skipping = not int(values[name]) > int(bound)
            continue
        if skipping:
            continue
        sql = bind(text)
        plans.append(psql_value(url, "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + sql))
        if kind == "gset":
            out = run(["psql", url, "-A", "-F", "\t", "-P", "footer=off", "-c", sql]).stdout.splitlines()
            values.update(zip(out[0].split("\t"), out[1].split("\t")))
    return "\n--\n".join(plans)


def ms(us):
    return f"{us / 1000:.2f} ms"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
                    help="PostgreSQL server (a superuser's admin database URL); bench_scale_auth and "
                         "bench_scale_posts are (re)created there")
    ap.add_argument("--duration", type=int, default=8, help="seconds per wrk / pgbench run")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL only")
    ap.add_argument("--out", help="directory for the raw output (default: a new temporary one)")
    args = ap.parse_args()
    # pgbench, psql's EXPLAINs and the seed run with the services' session settings (service-kit
    # turns JIT off on its PostgreSQL connections), so the plans and rates compared are alike.
    os.environ["PGOPTIONS"] = (os.environ.get("PGOPTIONS", "") + " -c jit=off").strip()

    if not args.skip_build:
        log("building release binaries ...")
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "auth-service", "-p", "posts-service",
                        "--bins"], cwd=ROOT, check=True)
    tmp = args.out or tempfile.mkdtemp(prefix="posts-scale-")
    os.makedirs(tmp, exist_ok=True)
    raw = open(os.path.join(tmp, "raw.txt"), "w", buffering=1)
    raw.write(f"load average at start: {os.getloadavg()}\n")
    log(f"raw output in {raw.name}")
    c, d = args.connections, args.duration
    rows, plans, r = [], [], {}

    def row(name, value, target="", ok=None):
        rows.append((name, value, target, "" if ok is None else ("ok" if ok else "MISSED")))
        log(f"  {name}: {value}  {target} {rows[-1][3]}")
        raw.write(f"\n===== figure: {name}: {value}  {target} {rows[-1][3]}\n")

    # ---------------------------------------------------------------- PostgreSQL
    base_url = args.pg.rsplit("/", 1)[0]
    for db in ("bench_scale_auth", "bench_scale_posts"):
        psql(args.pg, "-c", f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        psql(args.pg, "-c", f"CREATE DATABASE {db}")
    auth_db, posts_db = f"{base_url}/bench_scale_auth", f"{base_url}/bench_scale_posts"
    posts_bin = os.path.join(base.TARGET, "release", "posts-service")
    run([posts_bin, "migrate"], env={"PATH": os.environ["PATH"], "DATABASE_URL": posts_db, "RUST_LOG": "warn"})
    log(f"seeding {POSTS} posts, votes and authors with SQL ...")
    load = os.getloadavg()[0]
    seconds, counts = seed_postgres(posts_db, raw)
    row("seed (PostgreSQL, SQL)", f"{seconds:8.1f} s  {counts}  (load average {load:.1f})", "<= 60 s", seconds <= 60)

    auth = base.Service("auth-service", PG_AUTH_PORT, {
        "DATABASE_URL": auth_db, "JWT_PRIVATE_KEY_FILE": os.path.join(tmp, "key.pem"), "JWT_GENERATE_KEY": "true", **RATE_LIMITS_ON_HIGH, "BCRYPT_COST": "4"}, tmp)
    posts = base.Service("posts-service", PG_POSTS_PORT, {
        "DATABASE_URL": posts_db, "JWT_JWKS_URL": f"http://127.0.0.1:{PG_AUTH_PORT}/.well-known/jwks.json"}, tmp)
    sqlite_posts = None
    try:
        auth.start()
        posts.start()
        a = base.Client(PG_AUTH_PORT)
        tokens = []
        for i in range(USERS):
            status, body = a.call("POST", "/users/", {"email": f"scale{i}@example.com", "password": base.PASSWORD})
            assert status == 201 and body["id"] == i + 1, (status, body)
            status, body = a.call("POST", "/login", {"username": f"scale{i}@example.com", "password": base.PASSWORD}, form=True)
            assert status == 200, (status, body)
            tokens.append(body["access_token"])
        tokens_file = os.path.join(tmp, "tokens.txt")
        with open(tokens_file, "w") as f:
            f.write("\n".join(tokens) + "\n")
        env = {"BENCH_DIR": BENCH, "BENCH_TOKENS": tokens_file}

        cursor_urls, lo, hi = cursors_after(PG_POSTS_PORT, tokens[0], f"/posts/?limit=10&skip={POSTS // 2 - 10}", 20)
        common = {"published": "true", "skip": "0", "lo": MAX_ID, "hi": MAX_ID}
        pages = [
            ("first page", ["/posts/?limit=10"], "scale-page.sql", "prepared", common, True),
            ("cursor page, depth ~500 000", cursor_urls, "scale-page.sql", "prepared",
             {**common, "lo": lo, "hi": hi}, True),
            ("skip page, depth 10 000", ["/posts/?limit=10&skip=10000"], "scale-page.sql", "prepared",
             {**common, "skip": "10000"}, False),
        ]
        searches = []
        for name, word, script in SEARCHES:
            # The service prepares its statements once, except the older matches' statement,
            # which it sends unnamed (planned for its pattern each time): a script holding it
            # runs -M extended, as a prepared one would switch to a generic plan after five
            # calls that knows no pattern (measured: 77 statements/s for the oldest-only word).
            mode = "extended" if script == "scale-search-older.sql" else "prepared"
            searches.append((name, [f"/posts/?limit=10&search={word}"], script, mode,
                             {**common, "pattern": f"%{word}%", "esc": "\\"}, True))
        # Cursor pages: ~1 000 matches (20 000 posts) deep into the common word; and the
        # oldest-only word's pages after its first hundred matches.
        for name, word, start in (("search, common word, cursor page", "rust", "skip=990"),
                                  ("search, oldest-only word, cursor page", "ancient", "skip=100")):
            paths, low, high = cursors_after(PG_POSTS_PORT, tokens[0], f"/posts/?limit=10&search={word}&{start}", 20)
            searches.append((name, paths, "scale-search-window.sql", "prepared",
                             {**common, "pattern": f"%{word}%", "esc": "\\", "lo": low, "hi": high}, True))

        def measure(phase, scenarios):
            for name, paths, script, mode, defines, targeted in scenarios:
                label = f"{name} ({phase})"
                log(f"{label}: one client, pgbench, wrk ...")
                one = base.probe(PG_POSTS_PORT, paths[0], tokens[0], max(2, d // 2), interval=0.0)
                raw.write(f"\n===== one client: {label}: {paths[0]}: {one}\n")
                tps = pgbench(posts_db, script, mode, defines, c, d, raw, label)
                w = wrk_paths(paths, PG_POSTS_PORT, c, d, env, tmp, raw, label)
                ratio = w["rps"] / tps
                value = (f"1 client p50 {ms(one['p50_us'])} p99 {ms(one['p99_us'])};  {c} conns {w['rps']:7.0f} req/s "
                         f"p50 {ms(w['p50_us'])} p99 {ms(w['p99_us'])} errors {w['errors'] + one['errors']}  "
                         f"pgbench {tps:7.0f} tps  ratio {ratio:4.0%}")
                if targeted:
                    ok = w["errors"] == 0 and one["errors"] == 0 and one["p99_us"] <= 20_000 and ratio >= 0.50
                    row(f"PG {label}", value, "1 client p99 <= 20 ms, >= 50 % of pgbench", ok)
                else:
                    row(f"PG {label}", value, "(cost grows with skip)")
                plans.append((label, explain(posts_db, script, defines)))
                raw.write(f"\n===== plan: {label}\n{plans[-1][1]}\n")

        measure("fresh load", searches)
        seconds = settle_postgres(posts_db)
        row("VACUUM ANALYZE (PostgreSQL)", f"{seconds:8.1f} s")
        measure("vacuumed, analyzed", pages + searches)

        # Creating posts with this version's search indexes, the previous version's (the
        # newest migration reverted) and none (the older one reverted too).
        log("post creation with this version's search indexes, the previous one's, none ...")
        base.wrk("create.lua", f"http://127.0.0.1:{PG_POSTS_PORT}", c, 2, 2, {**env, "BENCH_CONNECTIONS": str(c)})
        created = []
        for migration in [None, *SEARCH_MIGRATIONS]:
            if migration:
                psql(posts_db, "-f", os.path.join(ROOT, "posts-service", "migrations", "postgres", migration, "down.sql"))
            created.append(base.wrk("create.lua", f"http://127.0.0.1:{PG_POSTS_PORT}", c, 2, d,
                                    {**env, "BENCH_CONNECTIONS": str(c)}))
        creation_rows("PG", row, *created)
        raw.write(f"\n===== create PG this version, previous, none: {created}\n")
        posts.stop()

        # ---------------------------------------------------------------- SQLite
        if not args.skip_sqlite:
            sqlite_posts = measure_sqlite(posts_bin, tmp, tokens, env, c, d, row, raw)
    finally:
        for svc in (sqlite_posts, posts, auth):
            if svc:
                svc.stop()


    raw.write(f"\nload average at end: {os.getloadavg()}\n")
    width = max(len(x[0]) for x in rows)
    print(f"\nmachine: {os.cpu_count()} cores, {os.uname().release}, load average now "
          f"{os.getloadavg()[0]:.1f}; PostgreSQL at {args.pg.rsplit('@', 1)[-1]}; {c} connections, {d} s per run\n")
    for name, value, target, verdict in rows:
        print(f"{name:<{width}}  {value:<100}  {('target ' + target) if target else '':<40} {verdict}")
    for name, plan in plans:
        print(f"\nplan, {name} (PostgreSQL, EXPLAIN ANALYZE):\n  " + plan.replace("\n", "\n  "))
    print(f"\nraw output: {raw.name}")


def measure_sqlite(posts_bin, tmp, tokens, env, c, d, row, raw):
    """SQLite with the same data: one client per page, then creation with and without the
    FTS5 index. Returns the running service (the caller stops it)."""
    path = os.path.join(tmp, "posts.db")
    for stale in (path, path + "-wal", path + "-shm"):
        if os.path.exists(stale):
            os.remove(stale)
    url = f"sqlite://{path}"
    run([posts_bin, "migrate"], env={"PATH": os.environ["PATH"], "DATABASE_URL": url, "RUST_LOG": "warn"})
    log("seeding SQLite ...")
    seconds = seed_sqlite(path)
    row("seed (SQLite, SQL)", f"{seconds:8.1f} s", "(no target)")
    service = base.Service("posts-service", SQLITE_POSTS_PORT, {
        "DATABASE_URL": url, "JWT_JWKS_URL": f"http://127.0.0.1:{PG_AUTH_PORT}/.well-known/jwks.json"}, tmp)
    service.start()
    try:
        measure_sqlite_service(path, tokens, env, c, d, row, raw)
    except BaseException:
        service.stop()
        raise
    return service


def measure_sqlite_service(path, tokens, env, c, d, row, raw):
    cursor_urls, _, _ = cursors_after(SQLITE_POSTS_PORT, tokens[0], f"/posts/?limit=10&skip={POSTS // 2 - 10}", 1)
    rust_cursor, _, _ = cursors_after(SQLITE_POSTS_PORT, tokens[0], "/posts/?limit=10&search=rust&skip=990", 1)
    ancient_cursor, _, _ = cursors_after(SQLITE_POSTS_PORT, tokens[0], "/posts/?limit=10&search=ancient&skip=100", 1)
    single = [(name, f"/posts/?limit=10&search={word}", True) for name, word, _ in SEARCHES] + [
        ("search, common word, cursor page", rust_cursor[0], True),
        ("search, oldest-only word, cursor page", ancient_cursor[0], True),
        ("cursor page, depth ~500 000", cursor_urls[0], True),
        ("first page", "/posts/?limit=10", False),
        ("skip page, depth 10 000", "/posts/?limit=10&skip=10000", False),
    ]
    for name, path_q, targeted in single:
        p = base.probe(SQLITE_POSTS_PORT, path_q, tokens[0], max(2, d // 2), interval=0.0)
        raw.write(f"\n===== SQLite single client: {name}: {path_q}: {p}\n")
        value = f"p50 {ms(p['p50_us'])}  p99 {ms(p['p99_us'])}  ({p['requests']} requests, errors {p['errors']})"
        if targeted:
            row(f"SQLite 1 client {name}", value, "p99 <= 20 ms", p["p99_us"] <= 20_000 and p["errors"] == 0)
        else:
            row(f"SQLite 1 client {name}", value)
    log("SQLite post creation with this version's FTS5 index, the previous one's, none ...")
    # A short run first, not counted: the first writes of a fresh process are slower.
    base.wrk("create.lua", f"http://127.0.0.1:{SQLITE_POSTS_PORT}", c, 2, 2, {**env, "BENCH_CONNECTIONS": str(c)})
    created = []
    for migration in [None, *SEARCH_MIGRATIONS]:
        if migration:
            db = sqlite3.connect(path, isolation_level=None)
            db.executescript(open(os.path.join(ROOT, "posts-service", "migrations", "sqlite", migration,
                                               "down.sql")).read())
            db.close()
        created.append(base.wrk("create.lua", f"http://127.0.0.1:{SQLITE_POSTS_PORT}", c, 2, d,
                                {**env, "BENCH_CONNECTIONS": str(c)}))
    creation_rows("SQLite", row, *created)
    raw.write(f"\n===== create SQLite this version, previous, none: {created}\n")


def creation_rows(backend, row, current, previous, none):
    for label, x in (("this version's search index", current), ("the previous version's", previous),
                     ("no search index", none)):
        row(f"{backend} create, {label}",
            f"{x['rps']:7.0f} req/s  p50 {ms(x['p50_us'])}  p99 {ms(x['p99_us'])}  errors {x['errors']}")
    rate = current["rps"] / previous["rps"]
    p99 = current["p99_us"] / max(previous["p99_us"], 1)
    row(f"{backend} create, this version against the previous", f"rate {rate:4.0%}, p99 {p99:4.0%}",
        "rate >= 80 %", rate >= 0.8)
    row(f"{backend} create, this version against none", f"rate {current['rps'] / none['rps']:4.0%}, "
        f"p99 {current['p99_us'] / max(none['p99_us'], 1):4.0%}")


if __name__ == "__main__":
    main()
