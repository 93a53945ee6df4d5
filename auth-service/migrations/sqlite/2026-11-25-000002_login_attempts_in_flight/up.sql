-- Attempts being checked right now count against the limit too, so parallel guesses cannot
-- exceed it; expired windows are purged by time on every login attempt.
ALTER TABLE login_failures ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
CREATE INDEX login_failures_window_started_at ON login_failures (window_started_at);
