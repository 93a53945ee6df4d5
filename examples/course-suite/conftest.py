"""Runs the course app's own test suite, unchanged, against this project's stack.

Point it at a checkout of github.com/Sanjeev-Thiyagarajan/fastapi-course and run (see
README.md beside this file):

    COURSE_CHECKOUT=/path/to/fastapi-course \
    PYTHONPATH=examples/course-suite \
    pytest --noconftest -p conftest --rootdir "$COURSE_CHECKOUT" "$COURSE_CHECKOUT/tests"

`--noconftest` keeps the checkout's own tests/conftest.py (which drives the FastAPI app on a
PostgreSQL test database) out; `-p conftest` loads this file instead, which gives the same
fixtures (`session`, `client`, `test_user`, `test_user2`, `token`, `authorized_client`,
`test_posts`) over HTTP against a fresh `stack --ephemeral` per test:

* `client` is a `requests.Session` (what the course's `TestClient` is) whose relative paths
  go to the auth service (`/users`, `/login`) or to the posts service (everything else).
* `token` is the access token from `POST /login`; the stack runs with the course's
  `SECRET_KEY` as `JWT_SECRET`, `JWT_ALGORITHM=HS256` and `JWT_AUDIENCE=none`, so the course's
  `jwt.decode(token, settings.secret_key, algorithms=[settings.algorithm])` reads it and
  finds `user_id`.
* `session` stands in for the SQLAlchemy session: `add`/`add_all` collect model objects and
  `commit` writes them through the API (a `models.Post` is created by its owner, a
  `models.Vote` cast by its user); `query(models.Post).all()` lists what was written.

The course's settings (`app.config`) are given the course's defaults below unless the
environment has them; no database is used.
"""

import json
import os
import pathlib
import select
import subprocess
import tempfile
from types import SimpleNamespace

import pytest
import requests

REPO = pathlib.Path(__file__).resolve().parents[2]
READY_TIMEOUT_SECONDS = 30

# The course's settings (docker-compose-dev.yml); `app.config` refuses to load without them.
COURSE_SETTINGS = {
    "DATABASE_HOSTNAME": "localhost",
    "DATABASE_PORT": "5432",
    "DATABASE_PASSWORD": "unused",
    "DATABASE_NAME": "fastapi",
    "DATABASE_USERNAME": "postgres",
    "SECRET_KEY": "09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7",
    "ALGORITHM": "HS256",
    "ACCESS_TOKEN_EXPIRE_MINUTES": "30",
}
for name, value in COURSE_SETTINGS.items():
    os.environ.setdefault(name, value)

AUTH_PATHS = ("/users", "/login")


def stack_binary() -> str:
    explicit = os.environ.get("STACK_BIN")
    if explicit:
        return explicit
    for profile in ("release", "debug"):
        candidate = REPO / "target" / profile / "stack"
        if candidate.is_file():
            return str(candidate)
    raise RuntimeError("no stack binary: run `cargo build --release -p stack` or set STACK_BIN")


def stack_environment() -> dict:
    """The course-compatible token mode: HS256 with the course's secret, no `aud`."""
    return {
        **os.environ,
        "JWT_ALGORITHM": "HS256",
        "JWT_SECRET": os.environ["SECRET_KEY"],
        "JWT_AUDIENCE": "none",
        "ACCESS_TOKEN_EXPIRE_MINUTES": os.environ["ACCESS_TOKEN_EXPIRE_MINUTES"],
    }


class RoutingClient(requests.Session):
    """A `requests.Session` that sends `/users…` and `/login…` to auth, the rest to posts."""

    def __init__(self, auth_url: str, posts_url: str):
        super().__init__()
        self.auth_url = auth_url
        self.posts_url = posts_url

    def request(self, method, url, *args, **kwargs):
        if url.startswith("/"):
            base = self.auth_url if url.startswith(AUTH_PATHS) else self.posts_url
            url = base + url
        return super().request(method, url, *args, **kwargs)


@pytest.fixture()
def stack():
    """A fresh `stack --ephemeral` for one test, stopped (its data removed) after it."""
    with tempfile.TemporaryDirectory() as workdir:
        log = open(pathlib.Path(workdir) / "stack.log", "wb")
        process = subprocess.Popen(
            [stack_binary(), "--ephemeral"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            cwd=workdir,
            env=stack_environment(),
        )
        log.close()
        ready, _, _ = select.select([process.stdout], [], [], READY_TIMEOUT_SECONDS)
        line = process.stdout.readline() if ready else b""
        if not line:
            process.kill()
            process.wait()
            output = (pathlib.Path(workdir) / "stack.log").read_text(errors="replace")
            raise RuntimeError(f"stack --ephemeral did not start:\n{output}")
        urls = json.loads(line)
        try:
            yield SimpleNamespace(auth_url=urls["auth_url"], posts_url=urls["posts_url"], tokens={})
        finally:
            process.stdin.close()
            process.wait(timeout=15)


class ApiSession:
    """The SQLAlchemy session the course's fixtures use, written through the API."""

    def __init__(self, stack):
        self.stack = stack
        self.pending = []
        self.posts = []

    def _token(self, user_id):
        token = self.stack.tokens.get(user_id)
        if token is None:
            raise RuntimeError(f"no logged-in fixture user with id {user_id}")
        return token

    def _post(self, url, token, body):
        return requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"})

    def add(self, obj):
        self.pending.append(obj)

    def add_all(self, objs):
        self.pending.extend(objs)

    def commit(self):
        pending, self.pending = self.pending, []
        for obj in pending:
            kind = type(obj).__name__
            if kind == "Post":
                body = {"title": obj.title, "content": obj.content}
                if obj.published is not None:
                    body["published"] = obj.published
                res = self._post(f"{self.stack.posts_url}/posts/", self._token(obj.owner_id), body)
                assert res.status_code == 201, res.text
                self.posts.append(SimpleNamespace(**{k: v for k, v in res.json().items() if k != "owner"}))
            elif kind == "Vote":
                body = {"post_id": obj.post_id, "dir": 1}
                res = self._post(f"{self.stack.posts_url}/vote/", self._token(obj.user_id), body)
                assert res.status_code == 201, res.text
            else:
                raise RuntimeError(f"the API session cannot write a {kind}")

    def query(self, model):
        if model.__name__ != "Post":
            raise RuntimeError(f"the API session cannot query {model.__name__}")
        return SimpleNamespace(all=lambda: list(self.posts))

    def close(self):
        pass


@pytest.fixture()
def session(stack):
    return ApiSession(stack)


@pytest.fixture()
def client(stack):
    with RoutingClient(stack.auth_url, stack.posts_url) as c:
        yield c


def _user(client, stack, email):
    user_data = {"email": email, "password": "password123"}
    res = client.post("/users/", json=user_data)
    assert res.status_code == 201
    new_user = res.json()
    new_user["password"] = user_data["password"]
    login = requests.post(f"{stack.auth_url}/login", data={"username": email, "password": "password123"})
    assert login.status_code == 200, login.text
    stack.tokens[new_user["id"]] = login.json()["access_token"]
    return new_user


@pytest.fixture()
def test_user2(client, stack):
    return _user(client, stack, "sanjeev123@gmail.com")


@pytest.fixture()
def test_user(client, stack):
    return _user(client, stack, "sanjeev@gmail.com")


@pytest.fixture()
def token(test_user, stack):
    return stack.tokens[test_user["id"]]


@pytest.fixture()
def authorized_client(client, token):
    client.headers = {**client.headers, "Authorization": f"Bearer {token}"}
    return client


@pytest.fixture()
def test_posts(test_user, session, test_user2):
    from app import models

    posts_data = [
        {"title": "first title", "content": "first content", "owner_id": test_user["id"]},
        {"title": "2nd title", "content": "2nd content", "owner_id": test_user["id"]},
        {"title": "3rd title", "content": "3rd content", "owner_id": test_user["id"]},
        {"title": "3rd title", "content": "3rd content", "owner_id": test_user2["id"]},
    ]
    session.add_all([models.Post(**post) for post in posts_data])
    session.commit()
    return session.query(models.Post).all()
