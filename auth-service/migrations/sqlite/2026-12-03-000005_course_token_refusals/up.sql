-- Users whose course-app tokens (COURSE_TOKEN_SECRET) are refused, since when: set by a
-- `logout?scope=all`, a logout with a course token, or a password change. A course token has
-- no session id or issue time, so all of that user's course tokens are refused from then on.
CREATE TABLE course_token_refusals (
    user_id INTEGER PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    since TIMESTAMP NOT NULL
);
CREATE INDEX course_token_refusals_since ON course_token_refusals (since);
