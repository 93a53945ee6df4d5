-- What `stack import-course` recorded: course tokens (COURSE_TOKEN_SECRET) name users by the
-- course app's ids, so they are accepted only for ids below `user_ids_below`, the course
-- app's next user id at the last import (every id a course token may carry). This project's
-- own users get ids from past that bound (plus a margin) on; any of them below it, and any
-- course user the import refused, is in course_token_refusals.
CREATE TABLE course_import (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    user_ids_below BIGINT NOT NULL,
    imported_at TIMESTAMP NOT NULL
);
-- A refusal may name a course user id that was never imported (refused by the import), so
-- it no longer references users (SQLite drops a constraint by rebuilding the table).
CREATE TABLE course_token_refusals_new (
    user_id INTEGER PRIMARY KEY NOT NULL,
    since TIMESTAMP NOT NULL
);
INSERT INTO course_token_refusals_new (user_id, since)
    SELECT user_id, since FROM course_token_refusals;
DROP TABLE course_token_refusals;
ALTER TABLE course_token_refusals_new RENAME TO course_token_refusals;
CREATE INDEX course_token_refusals_since ON course_token_refusals (since);
