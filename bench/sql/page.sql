-- The statement posts-service runs for GET /posts/?limit=10&skip=N (see
-- posts-service/src/store.rs, page_of_posts_with_votes): the page's ids first, then owners
-- and vote counts for those ten rows only.
\set skip random(0, 990)
\set me random(1, 10)
SELECT posts.id, posts.title, posts.content, posts.published, posts.created_at, posts.owner_id,
       authors.id, authors.email, authors.created_at,
       (SELECT count(*) FROM votes WHERE votes.post_id = posts.id)
FROM posts INNER JOIN authors ON posts.owner_id = authors.id
WHERE posts.id = ANY (SELECT posts.id FROM posts WHERE posts.published = true OR posts.owner_id = :me
                      ORDER BY posts.id DESC LIMIT 10 OFFSET :skip)
ORDER BY posts.id DESC;
