-- Search whose cost is bounded by the page (store.rs, `page_of_posts_with_votes`): the newest
-- posts are walked first, and only when they do not fill the page are older matches looked
-- up, from indexes holding nothing the caller may not see:
--
-- * published titles only: an FTS5 trigram index (`posts_published_fts`) kept by triggers,
--   which returns matches newest first and stops once the page is full, so a word found only
--   in drafts costs nothing (external content: the titles are stored once, in `posts`;
--   `case_sensitive 1`: titles and searches are lower-cased in Rust);
-- * each owner's drafts: a small partial index, walked for the caller's own.
--
-- It replaces `posts_fts` (every title), which no statement reads any more.
DROP TRIGGER posts_fts_after_update;
DROP TRIGGER posts_fts_after_delete;
DROP TRIGGER posts_fts_after_insert;
DROP TABLE posts_fts;

CREATE VIRTUAL TABLE posts_published_fts USING fts5(
    title_search,
    content = 'posts',
    content_rowid = 'id',
    tokenize = 'trigram case_sensitive 1'
);

-- An external-content index must be told the values it indexed to forget a row: each
-- trigger removes exactly what the row held when it was indexed (a published row's old
-- title_search), and indexes a row only while it is published.
CREATE TRIGGER posts_published_fts_after_insert AFTER INSERT ON posts WHEN new.published BEGIN
    INSERT INTO posts_published_fts (rowid, title_search) VALUES (new.id, new.title_search);
END;

CREATE TRIGGER posts_published_fts_after_delete AFTER DELETE ON posts WHEN old.published BEGIN
    INSERT INTO posts_published_fts (posts_published_fts, rowid, title_search)
        VALUES ('delete', old.id, old.title_search);
END;

CREATE TRIGGER posts_published_fts_after_update AFTER UPDATE OF title_search, published ON posts
BEGIN
    INSERT INTO posts_published_fts (posts_published_fts, rowid, title_search)
        SELECT 'delete', old.id, old.title_search WHERE old.published;
    INSERT INTO posts_published_fts (rowid, title_search)
        SELECT new.id, new.title_search WHERE new.published;
END;

-- Published posts that existed before this migration (not 'rebuild', which would index
-- every row of posts), merged into one segment (see the 2026-11-27 migration: many small
-- segments make later inserts pay for their merging).
INSERT INTO posts_published_fts (rowid, title_search)
    SELECT id, title_search FROM posts WHERE published;
INSERT INTO posts_published_fts (posts_published_fts) VALUES ('optimize');

CREATE INDEX posts_drafts_owner_id_id ON posts (owner_id, id) WHERE NOT published;
