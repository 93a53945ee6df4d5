-- The Unicode TR39 skeleton of each account's email key: sign-up refuses an address whose
-- skeleton another account has (a Cyrillic `а` for a Latin `a`). Filled for existing rows by
-- the service after its migrations (`after_migrations`: Rust computes it); not unique, since
-- accounts made before this rule may already be look-alikes of each other.
ALTER TABLE users ADD COLUMN email_skeleton TEXT;
CREATE INDEX users_email_skeleton ON users (email_skeleton);
