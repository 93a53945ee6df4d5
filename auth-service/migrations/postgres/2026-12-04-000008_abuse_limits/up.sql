-- Request counters shared by every replica: one row per bucket (a route and a client
-- address, or a route alone), a fixed window identified by its start (unix seconds).
-- Rows of windows that are over are purged by the first request of each new window.
-- UNLOGGED: no WAL, so a count costs no fsync at commit (every request of a limited route
-- writes here); the price is that a crash of PostgreSQL, or a fail-over to a standby,
-- starts every count afresh, which is harmless for counts that last a minute.
CREATE UNLOGGED TABLE rate_limits (
    bucket TEXT PRIMARY KEY NOT NULL,
    window_start BIGINT NOT NULL,
    hits INTEGER NOT NULL
);
CREATE INDEX rate_limits_window_start ON rate_limits (window_start);

-- Incremental waits: once a counter's failures reach the limit, checks are refused until
-- this time, which doubles with every further failure (up to the failure window).
ALTER TABLE login_failures ADD COLUMN locked_until TIMESTAMP;
