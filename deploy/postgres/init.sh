#!/bin/sh
# Run once by the postgres image's entrypoint, on a new volume, as the postgres user: one
# least-privilege role per service, owning its own database (so its migrations can create
# tables and the trusted pg_trgm extension) and unable to connect to the other's. Passwords
# come from the secrets the `secrets` service installed; nothing is written in the compose file.
# The CONNECTION LIMITs cap all replicas of a service together (README: pool arithmetic):
# 32 + 64 = 96 of PostgreSQL's 100, 3 being kept for superusers.
set -eu
secrets=/run/postgres-secrets
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --dbname postgres \
  --set auth_password="$(cat "$secrets/auth_db_password")" \
  --set posts_password="$(cat "$secrets/posts_db_password")" <<'SQL'
CREATE ROLE auth LOGIN PASSWORD :'auth_password' CONNECTION LIMIT 32;
CREATE ROLE posts LOGIN PASSWORD :'posts_password' CONNECTION LIMIT 64;
CREATE DATABASE auth OWNER auth;
CREATE DATABASE posts OWNER posts;
REVOKE ALL ON DATABASE auth FROM PUBLIC;
REVOKE ALL ON DATABASE posts FROM PUBLIC;
SQL
