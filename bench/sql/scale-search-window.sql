-- GET /posts/?limit=10&search=… (three or more characters) as posts-service sends it to
-- PostgreSQL when the newest 5 000 posts below the cursor fill the page (store.rs,
-- indexed_search_page): the window's lowest id (the smallest bigint when fewer posts are below
-- the cursor: the service then reads the window only), then the page statement bounded by it.
-- bench/scale.py sets pattern (e.g. %rust%), esc (\), lo, hi, skip, published with -D.
\set me random(1, 10)
\set before random(:lo, :hi)
SELECT coalesce((SELECT posts.id FROM posts WHERE (posts.id < :before)
                 ORDER BY posts.id DESC LIMIT 1 OFFSET 4999), -9223372036854775808) AS floor \gset
SELECT posts.id, posts.title, posts.content, posts.published, posts.created_at, posts.owner_id,
       authors.id, authors.email, authors.created_at,
       (SELECT COUNT(*) FROM votes WHERE (votes.post_id = posts.id) LIMIT 1)
FROM (posts INNER JOIN authors ON (posts.owner_id = authors.id))
WHERE (posts.id = ANY(SELECT page.id FROM posts AS page
                      WHERE (((((page.published = :published) OR (page.owner_id = :me))
                               AND (page.id < :before))
                              AND (page.title_search LIKE :pattern ESCAPE :esc))
                             AND (page.id >= :floor))
                      ORDER BY page.id DESC LIMIT 11 OFFSET :skip))
ORDER BY posts.id DESC;
