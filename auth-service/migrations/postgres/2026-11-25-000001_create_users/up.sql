CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL,
    -- the email folded to lower case: one account per address, whatever its case
    email_key TEXT NOT NULL CONSTRAINT users_email_key UNIQUE,
    password_hash TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

-- Failed logins per account (by email key, whether or not the account exists), shared by
-- every replica so throttling holds across them.
CREATE TABLE login_failures (
    email_key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_started_at TIMESTAMP NOT NULL
);
