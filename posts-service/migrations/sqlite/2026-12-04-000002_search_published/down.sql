DROP INDEX posts_drafts_owner_id_id;
DROP TRIGGER posts_published_fts_after_update;
DROP TRIGGER posts_published_fts_after_delete;
DROP TRIGGER posts_published_fts_after_insert;
DROP TABLE posts_published_fts;

-- posts_fts as the 2026-11-27 migration made it.
CREATE VIRTUAL TABLE posts_fts USING fts5(
    title_search,
    content = 'posts',
    content_rowid = 'id',
    tokenize = 'trigram case_sensitive 1'
);

CREATE TRIGGER posts_fts_after_insert AFTER INSERT ON posts BEGIN
    INSERT INTO posts_fts (rowid, title_search) VALUES (new.id, new.title_search);
END;

CREATE TRIGGER posts_fts_after_delete AFTER DELETE ON posts BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, title_search)
        VALUES ('delete', old.id, old.title_search);
END;

CREATE TRIGGER posts_fts_after_update AFTER UPDATE OF title_search ON posts BEGIN
    INSERT INTO posts_fts (posts_fts, rowid, title_search)
        VALUES ('delete', old.id, old.title_search);
    INSERT INTO posts_fts (rowid, title_search) VALUES (new.id, new.title_search);
END;

INSERT INTO posts_fts (posts_fts) VALUES ('rebuild');
INSERT INTO posts_fts (posts_fts) VALUES ('optimize');
