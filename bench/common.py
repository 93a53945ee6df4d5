"""What the benchmark scripts share: paths, logging, psql, and a small HTTP client of the
services (standard library only, one kept-alive connection)."""

import http.client
import json
import os
import subprocess
import sys
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
# Where cargo puts the release binaries: $CARGO_TARGET_DIR when set, as cargo itself does.
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def psql(url, sql):
    """Runs `sql` with psql against `url`; its output, unaligned, without headers."""
    return subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
                          check=True, text=True, capture_output=True).stdout.strip()


class Client:
    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None, token=None, form=False):
        """(status, JSON body or None) of one request; `form` sends `body` as a form."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if body is not None:
            if form:
                body = urllib.parse.urlencode(body)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                body = json.dumps(body)
                headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, (json.loads(data) if data else None)
