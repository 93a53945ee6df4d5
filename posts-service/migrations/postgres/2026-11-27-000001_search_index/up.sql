-- Indexed search: `title_search LIKE '%word%'` is answered from a trigram index instead of
-- reading every title. pg_trgm is a trusted extension (PostgreSQL >= 13), so the database
-- owner (or a role with CREATE on the database) may create it here.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE INDEX posts_title_search_trgm ON posts USING gin (title_search gin_trgm_ops);
