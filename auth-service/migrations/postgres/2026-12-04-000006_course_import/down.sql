DELETE FROM course_token_refusals r WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = r.user_id);
ALTER TABLE course_token_refusals ADD CONSTRAINT course_token_refusals_user_id_fkey
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
DROP TABLE course_import;
