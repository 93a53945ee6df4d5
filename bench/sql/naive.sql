-- For comparison only: the course app's shape (join, group, then OFFSET), which counts the
-- votes of every skipped row.
\set skip random(0, 990)
\set me random(1, 10)
SELECT posts.*, authors.email, count(votes.post_id) AS votes
FROM posts JOIN authors ON posts.owner_id = authors.id LEFT JOIN votes ON votes.post_id = posts.id
WHERE posts.published = true OR posts.owner_id = :me
GROUP BY posts.id, authors.id ORDER BY posts.id DESC LIMIT 10 OFFSET :skip;
