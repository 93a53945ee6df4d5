-- GET /posts/?limit=10&search=… (three or more characters) as posts-service sends it to
-- PostgreSQL when the newest 5 000 posts below the cursor do not fill the page (store.rs,
-- indexed_search_page): the window's lowest id (the smallest bigint when fewer posts are below
-- the cursor), the page from the window, the ids of older
-- matches (published ones from the trigram index of published titles, the caller's drafts
-- from the per-owner index of drafts; the service's statement, wrapped to keep its ids), and
-- the page of those ids when there are any. The window matches nothing in this benchmark's
-- shapes, so the older statement asks for the whole page (LIMIT 11).
-- bench/scale.py sets pattern (e.g. %zebra%), esc (\), lo, hi, skip, published with -D.
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
SELECT coalesce(array_agg(id), '{}') AS ids, count(*) AS found FROM (
SELECT id FROM (
(SELECT id FROM posts
 WHERE (CASE WHEN published THEN title_search END) LIKE :pattern ESCAPE '\' AND id < :floor
 ORDER BY id + 0 DESC LIMIT 11)
UNION ALL
(SELECT id FROM posts
 WHERE owner_id = :me AND NOT published AND id < :floor AND title_search LIKE :pattern ESCAPE '\'
 ORDER BY id DESC LIMIT 11)
) AS older ORDER BY id DESC LIMIT 11 OFFSET 0) AS wrapped \gset
\if :found > 0
SELECT posts.id, posts.title, posts.content, posts.published, posts.created_at, posts.owner_id,
       authors.id, authors.email, authors.created_at,
       (SELECT COUNT(*) FROM votes WHERE (votes.post_id = posts.id) LIMIT 1)
FROM (posts INNER JOIN authors ON (posts.owner_id = authors.id))
WHERE (posts.id = ANY(:ids::bigint[]))
ORDER BY posts.id DESC;
\endif
