-- The scale benchmark's data, made by SQL in the database (not through the API): 10 000
-- authors, 1 000 000 posts (10 % drafts) with titles of five or six words from a small
-- vocabulary, and about 3 000 000 votes. Run on a freshly migrated posts database by
-- bench/scale.py, before scale-votes.sql. Deterministic: the same rows every run.
--
-- Search words: "rust" is in every 20th title (50 000 posts, a common word, published or
-- not), "zebra" in ten (a rare word), "nosuchword" in none, "secret" in 10 % of the posts, all
-- of them drafts of authors other than the benchmark's users (ids 1-10), and "ancient" in the
-- oldest 1 000 posts only, "quartz" in every 500th post (2 000, spread evenly: too few for a
-- page from the newest 5 000 posts that a search walks first, the most its index then
-- returns). No vocabulary word contains any of them.
\set ON_ERROR_STOP on
SET synchronous_commit = off;
-- bench/scale.py drops the secondary indexes the migrations made before this runs and makes
-- them again (from their own definitions) afterwards, beside the votes' load: loading first
-- and indexing once is several times faster than keeping the indexes up to date row by row.
-- The rows are consistent by construction; skipping the per-row foreign-key triggers for
-- the posts saves much of their load time (needs a superuser, as the benchmark is).
SET session_replication_role = replica;

INSERT INTO authors (id, email, created_at)
SELECT g, 'author' || g || '@example.com', timestamp '2025-01-01' + g * interval '1 minute'
FROM generate_series(1, 10000) g;

\o /dev/null
SELECT setseed(0.42);
\o
CREATE TEMP TABLE vocabulary AS SELECT ARRAY[
    'the', 'a', 'new', 'how', 'why', 'my', 'first', 'notes', 'on', 'post', 'api', 'web',
    'python', 'fastapi', 'server', 'database', 'query', 'index', 'cache', 'async', 'test',
    'deploy', 'docker', 'guide', 'tips', 'review', 'update', 'week', 'today', 'release',
    'design', 'simple', 'fast', 'slow', 'bug', 'fix', 'feature', 'story', 'team', 'data',
    'cloud', 'linux', 'code', 'learning', 'project', 'service', 'user', 'login', 'token',
    'vote', 'morning', 'coffee', 'garden', 'travel', 'music', 'book', 'movie', 'city',
    'river', 'mountain', 'lake', 'winter', 'summer', 'spring', 'autumn', 'night', 'sunday',
    'weekend', 'recipe', 'bread', 'tea', 'chess', 'game', 'match', 'goal', 'score', 'run',
    'walk', 'bike', 'photo', 'camera', 'art', 'paint', 'song', 'piano', 'guitar', 'shop',
    'market', 'price', 'plan', 'idea', 'question', 'answer', 'problem', 'solution', 'life',
    'work', 'home', 'family', 'friend', 'école', 'café', 'straße', 'naïve', 'über'
] AS w;

INSERT INTO posts (id, title, title_search, content, published, created_at, owner_id)
SELECT g, t, lower(t),
       'Seeded post ' || g || ' of the scale benchmark, a line of body text like many others.',
       g % 10 <> 3,
       timestamp '2025-06-01' + g * interval '10 seconds',
       1 + (g::bigint * 7919) % 10000
FROM (
    SELECT g, concat_ws(' ',
        initcap(w[1 + floor(random() * n)::int]),
        w[1 + floor(random() * n)::int],
        w[1 + floor(random() * n)::int],
        CASE WHEN g % 20 = 7 THEN 'Rust' END,
        w[1 + floor(random() * n)::int],
        CASE WHEN g % 100000 = 4242 THEN 'zebra' END,
        CASE WHEN g % 10 = 3 AND (g::bigint * 7919) % 10000 >= 10 THEN 'secret' END,
        CASE WHEN g <= 1000 THEN 'ancient' END,
        CASE WHEN g % 500 = 17 THEN 'quartz' END,
        w[1 + floor(random() * n)::int],
        CASE WHEN g % 3 = 0 THEN w[1 + floor(random() * n)::int] END) AS t
    FROM generate_series(1, 1000000) g, (SELECT w, cardinality(w) AS n FROM vocabulary) v
) titles;
SELECT setval('posts_id_seq', (SELECT max(id) FROM posts));
