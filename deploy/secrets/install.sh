#!/bin/sh
# The compose file's one-shot `secrets` service, run as root before anything else starts.
# Compose mounts file secrets with the host file's owner and mode (it ignores `uid`/`mode`),
# so a 0600 host file is unreadable to a service running as another user. This copies each
# secret into a volume owned by the user its consumer runs as, mode 0600:
#   auth_*              -> auth volume (uid 10001): the signing key, keys published for
#                          rotation, the database password (as a libpq pgpass file)
#   posts_*             -> posts volume (uid 10001): the database password (pgpass)
#   sessions_feed_secret -> both: the ended-sessions feed's credential
#   postgres_password, *_db_password -> postgres volume (uid 999, the image's postgres user):
#                          the superuser's password and each service role's, for the init script
# Copies are rewritten on every `up`, so rotating a secret on the host takes effect on the next.
set -eu

SERVICE_UID=10001
POSTGRES_UID=999

install_file() { # source destination uid
  umask 077
  cp "$1" "$2.tmp"
  chown "$3:$3" "$2.tmp"
  chmod 0600 "$2.tmp"
  mv "$2.tmp" "$2"
}

# A libpq password file (https://www.postgresql.org/docs/current/libpq-pgpass.html) for
# `role` with the password in `source`: `:` and `\` are escaped.
install_pgpass() { # source role destination uid
  umask 077
  password=$(cat "$1")
  escaped=$(printf '%s' "$password" | sed 's/[\\:]/\\&/g')
  printf '*:*:*:%s:%s\n' "$2" "$escaped" > "$3.tmp"
  chown "$4:$4" "$3.tmp"
  chmod 0600 "$3.tmp"
  mv "$3.tmp" "$3"
}

for dir in /out/auth /out/posts /out/postgres; do
  find "$dir" -mindepth 1 -delete
done
chown "$SERVICE_UID:$SERVICE_UID" /out/auth /out/posts
chown "$POSTGRES_UID:$POSTGRES_UID" /out/postgres
chmod 0700 /out/auth /out/posts /out/postgres

for secret in /run/secrets/*; do
  name=$(basename "$secret")
  case "$name" in
    postgres_password)
      install_file "$secret" "/out/postgres/$name" "$POSTGRES_UID" ;;
    auth_db_password)
      install_file "$secret" "/out/postgres/$name" "$POSTGRES_UID"
      install_pgpass "$secret" auth /out/auth/pgpass "$SERVICE_UID" ;;
    posts_db_password)
      install_file "$secret" "/out/postgres/$name" "$POSTGRES_UID"
      install_pgpass "$secret" posts /out/posts/pgpass "$SERVICE_UID" ;;
    sessions_feed_secret)
      install_file "$secret" "/out/auth/$name" "$SERVICE_UID"
      install_file "$secret" "/out/posts/$name" "$SERVICE_UID" ;;
    auth_*)
      install_file "$secret" "/out/auth/$name" "$SERVICE_UID" ;;
    posts_*)
      install_file "$secret" "/out/posts/$name" "$SERVICE_UID" ;;
    *)
      echo "secrets: $name has no consumer" >&2
      exit 1 ;;
  esac
  echo "secrets: installed $name"
done
