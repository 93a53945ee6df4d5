-- The scale benchmark's votes, about 3 000 000, made by SQL after scale-seed.sql (bench/scale.py
-- runs this beside the posts' index builds). Consistent by construction, so the per-row
-- foreign-key triggers are skipped (needs a superuser, as the benchmark is).
\set ON_ERROR_STOP on
SET synchronous_commit = off;
SET session_replication_role = replica;

-- Post p gets p % 7 votes (0..6, on average 3) from distinct authors.
INSERT INTO votes (post_id, user_id)
SELECT p, 1 + (p::bigint * 7919 + j * 104729) % 10000
FROM generate_series(1, 1000000) p, generate_series(1, 6) j
WHERE j <= p % 7;
