-- GET /posts/?limit=10 (first page, &cursor=… or &skip=N) as posts-service sends it: the
-- statement of store.rs, page_of_posts_with_votes, with its parameters (one row more than the
-- page, to know whether a next page exists). bench/scale.py sets lo, hi (the cursor's id
-- range; 2^63-1 for no cursor), skip and published=true with -D; me is one of the 10 users.
\set me random(1, 10)
\set before random(:lo, :hi)
SELECT posts.id, posts.title, posts.content, posts.published, posts.created_at, posts.owner_id,
       authors.id, authors.email, authors.created_at,
       (SELECT COUNT(*) FROM votes WHERE (votes.post_id = posts.id) LIMIT 1)
FROM (posts INNER JOIN authors ON (posts.owner_id = authors.id))
WHERE (posts.id = ANY(SELECT page.id FROM posts AS page
                      WHERE (((page.published = :published) OR (page.owner_id = :me))
                             AND (page.id < :before))
                      ORDER BY page.id DESC LIMIT 11 OFFSET :skip))
ORDER BY posts.id DESC;
