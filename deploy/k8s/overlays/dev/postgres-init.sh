#!/bin/sh
# Run once by the postgres image's entrypoint on an empty volume (dev overlay only): the
# least-privilege layout of deploy/postgres/init.sh, with the passwords from the
# postgres-passwords Secret (deploy/k8s/create-secrets). Each service's role owns its own
# database and cannot connect to the other's; the CONNECTION LIMITs cap all replicas of a
# service together (auth 32 = 4 replicas x 8, posts 64 = 8 replicas x 8).
set -eu
dir=/run/secrets/postgres
for role in auth posts; do
  limit=32
  [ "$role" = posts ] && limit=64
  psql -v ON_ERROR_STOP=1 --no-psqlrc -U "$POSTGRES_USER" -d postgres \
    --set role="$role" --set limit="$limit" --set password="$(cat "$dir/$role")" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password' CONNECTION LIMIT :limit;
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
done
