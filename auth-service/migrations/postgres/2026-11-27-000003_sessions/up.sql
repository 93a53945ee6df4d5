-- A session starts at login and lasts while its refresh tokens are rotated; `ended_at` is set
-- by a logout, a password change or a reused refresh token. `access_until` is the expiry of
-- the newest access token issued for it: once an ended session's `access_until` has passed,
-- no token of it can verify, so verifiers forget it.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMP NOT NULL,
    access_until TIMESTAMP NOT NULL,
    ended_at TIMESTAMP
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_ended_at ON sessions (ended_at);
CREATE INDEX sessions_access_until ON sessions (access_until);

-- Every refresh token a session was given, by SHA-256 (never the token itself). The current
-- one has no `rotated_at`; rotated ones are kept until they expire, so presenting one again
-- is recognised as reuse.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    rotated_at TIMESTAMP
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
CREATE INDEX refresh_tokens_expires_at ON refresh_tokens (expires_at);
