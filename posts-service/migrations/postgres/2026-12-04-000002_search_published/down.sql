CREATE INDEX posts_title_search_trgm ON posts USING gin (title_search gin_trgm_ops);
DROP INDEX posts_drafts_owner_id_id;
DROP INDEX posts_published_title_search_trgm;
