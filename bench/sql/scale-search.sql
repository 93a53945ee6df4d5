-- GET /posts/?limit=10&search=… as posts-service sends it to PostgreSQL (store.rs,
-- page_of_posts_with_votes): the page statement with the title filter, sent unnamed so it is
-- planned for its own pattern (run it with pgbench -M extended, as the service does).
-- bench/scale.py sets pattern (e.g. %zebra%), esc (\), lo, hi, skip, published with -D.
\set me random(1, 10)
\set before random(:lo, :hi)
SELECT posts.id, posts.title, posts.content, posts.published, posts.created_at, posts.owner_id,
       authors.id, authors.email, authors.created_at,
       (SELECT COUNT(*) FROM votes WHERE (votes.post_id = posts.id) LIMIT 1)
FROM (posts INNER JOIN authors ON (posts.owner_id = authors.id))
WHERE (posts.id = ANY(SELECT page.id FROM posts AS page
                      WHERE ((((page.published = :published) OR (page.owner_id = :me))
                              AND (page.id < :before))
                             AND (page.title_search LIKE :pattern ESCAPE :esc))
                      ORDER BY page.id DESC LIMIT 11 OFFSET :skip))
ORDER BY posts.id DESC;
