DROP INDEX posts_title_search_trgm;
-- The pg_trgm extension stays: it may have existed before this migration (IF NOT EXISTS),
-- and other objects may use it; without the index it costs nothing.
