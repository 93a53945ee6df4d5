DROP TABLE votes;
DROP TABLE posts;
DROP TABLE authors;
