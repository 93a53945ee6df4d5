CREATE TABLE course_token_refusals_old (
    user_id INTEGER PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    since TIMESTAMP NOT NULL
);
INSERT INTO course_token_refusals_old (user_id, since)
    SELECT user_id, since FROM course_token_refusals WHERE user_id IN (SELECT id FROM users);
DROP TABLE course_token_refusals;
ALTER TABLE course_token_refusals_old RENAME TO course_token_refusals;
CREATE INDEX course_token_refusals_since ON course_token_refusals (since);
DROP TABLE course_import;
