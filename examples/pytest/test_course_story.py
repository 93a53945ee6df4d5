"""The course's story against a real stack: sign up, log in, create, list, vote (409 on a
double vote), delete; a fixture file; and a token that expires after two seconds."""

import base64
import json
import pathlib
import time

import requests

PASSWORD = "password123"
FIXTURE = pathlib.Path(__file__).resolve().parents[1] / "fixtures.json"


def sign_up(stack, email):
    resp = requests.post(f"{stack.auth_url}/users/", json={"email": email, "password": PASSWORD})
    assert resp.status_code == 201, resp.text
    return resp.json()["id"]


def log_in(stack, email, password=PASSWORD):
    resp = requests.post(f"{stack.auth_url}/login", data={"username": email, "password": password})
    assert resp.status_code == 200, resp.text
    return resp.json()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_sign_up_log_in_create_list_vote_and_delete(stack):
    alice = sign_up(stack, "alice@example.com")
    bob = sign_up(stack, "bob@example.com")
    alice_token = log_in(stack, "alice@example.com")["access_token"]
    bob_token = log_in(stack, "bob@example.com")["access_token"]

    resp = requests.post(
        f"{stack.posts_url}/posts/",
        json={"title": "hello", "content": "from pytest"},
        headers=bearer(alice_token),
    )
    assert resp.status_code == 201
    post = resp.json()
    assert post["owner_id"] == alice
    assert post["owner"]["email"] == "alice@example.com"
    assert post["published"] is True

    listed = requests.get(f"{stack.posts_url}/posts/", headers=bearer(bob_token)).json()
    assert [(p["Post"]["id"], p["votes"]) for p in listed] == [(post["id"], 0)]

    vote = {"post_id": post["id"], "dir": 1}
    resp = requests.post(f"{stack.posts_url}/vote/", json=vote, headers=bearer(bob_token))
    assert resp.status_code == 201
    assert resp.json() == {"message": "successfully added vote"}
    resp = requests.post(f"{stack.posts_url}/vote/", json=vote, headers=bearer(bob_token))
    assert resp.status_code == 409
    assert resp.json() == {"detail": f"user {bob} has alredy voted on post {post['id']}"}
    one = requests.get(f"{stack.posts_url}/posts/{post['id']}", headers=bearer(bob_token)).json()
    assert one["votes"] == 1

    resp = requests.delete(f"{stack.posts_url}/posts/{post['id']}", headers=bearer(bob_token))
    assert resp.status_code == 403
    resp = requests.delete(f"{stack.posts_url}/posts/{post['id']}", headers=bearer(alice_token))
    assert resp.status_code == 204
    assert resp.content == b""
    resp = requests.get(f"{stack.posts_url}/posts/{post['id']}", headers=bearer(alice_token))
    assert resp.status_code == 404
    assert resp.json() == {"detail": f"post with id: {post['id']} was not found"}


def test_each_test_gets_an_empty_stack(stack):
    # The previous test's users do not exist here: the same email signs up again.
    sign_up(stack, "alice@example.com")
    resp = requests.post(f"{stack.auth_url}/login", data={"username": "alice@example.com", "password": "wrong-password"})
    assert resp.status_code == 403
    assert resp.json() == {"detail": "Invalid Credentials"}


def test_a_fixture_file_seeds_users_posts_and_votes(start):
    stack = start(args=["--seed", str(FIXTURE)])
    token = log_in(stack, "alice@example.com")["access_token"]
    listed = requests.get(f"{stack.posts_url}/posts/", headers=bearer(token)).json()
    assert [(p["Post"]["title"], p["votes"]) for p in listed] == [("second post", 1), ("hello world", 2)]


def token_exp(token):
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["exp"]


def test_a_token_expires_after_two_seconds(start):
    stack = start(env={"ACCESS_TOKEN_EXPIRE_SECONDS": "2"})
    sign_up(stack, "alice@example.com")
    login = log_in(stack, "alice@example.com")
    assert login["expires_in"] == 2
    token = login["access_token"]
    exp = token_exp(token)

    # Poll every 100 ms, for at most 3 s past expiry: every success was sent before `exp`
    # (whole seconds, as the service compares them), and the refusal came at or after it.
    successes = 0
    while True:
        sent = time.time()
        resp = requests.get(f"{stack.posts_url}/posts/", headers=bearer(token))
        answered = time.time()
        if resp.status_code == 200:
            assert int(sent) < exp, f"accepted after expiry (sent {sent:.3f}, exp {exp})"
            successes += 1
        else:
            assert resp.status_code == 401
            assert int(answered) >= exp, f"refused before expiry (answered {answered:.3f}, exp {exp})"
            assert resp.json() == {"detail": "Could not validate credentials"}
            assert resp.headers["WWW-Authenticate"] == "Bearer"
            break
        assert answered < exp + 3, "still accepted 3 s after expiry"
        time.sleep(0.1)
    assert successes > 0, "the token never worked before it expired"
