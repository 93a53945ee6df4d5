-- Authors as their verified tokens described them (id and email from the auth service's
-- claims), upserted on every write so posts can show their owner without asking it.
CREATE TABLE authors (
    id INTEGER PRIMARY KEY NOT NULL,
    email TEXT NOT NULL,
    created_at TIMESTAMP NULL
);

CREATE TABLE posts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    -- title.to_lowercase() computed in Rust, so case-insensitive search agrees on both
    -- backends, non-ASCII text included
    title_search TEXT NOT NULL,
    content TEXT NOT NULL,
    published BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    owner_id INTEGER NOT NULL REFERENCES authors (id)
);

CREATE INDEX posts_owner_id_id ON posts (owner_id, id);

-- post_id first: counting one post's votes uses the primary key.
CREATE TABLE votes (
    post_id INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    user_id INTEGER NOT NULL,
    PRIMARY KEY (post_id, user_id)
);
