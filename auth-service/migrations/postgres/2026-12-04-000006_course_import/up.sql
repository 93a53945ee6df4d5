-- What `stack import-course` recorded: course tokens (COURSE_TOKEN_SECRET) name users by the
-- course app's ids, so they are accepted only for ids below `user_ids_below`, the course
-- app's next user id at the last import (every id a course token may carry). This project's
-- own users get ids from past that bound (plus a margin) on; any of them below it, and any
-- course user the import refused, is in course_token_refusals.
CREATE TABLE course_import (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    user_ids_below BIGINT NOT NULL,
    imported_at TIMESTAMP NOT NULL
);
-- A refusal may name a course user id that was never imported (refused by the import), so
-- it no longer references users.
ALTER TABLE course_token_refusals DROP CONSTRAINT course_token_refusals_user_id_fkey;
