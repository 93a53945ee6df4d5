DROP INDEX login_failures_window_started_at;
ALTER TABLE login_failures DROP COLUMN pending;
