DROP INDEX users_email_skeleton;
ALTER TABLE users DROP COLUMN email_skeleton;
