DROP TRIGGER posts_fts_after_update;
DROP TRIGGER posts_fts_after_delete;
DROP TRIGGER posts_fts_after_insert;
DROP TABLE posts_fts;
