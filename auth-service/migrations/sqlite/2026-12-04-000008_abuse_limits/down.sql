ALTER TABLE login_failures DROP COLUMN locked_until;
DROP TABLE rate_limits;
