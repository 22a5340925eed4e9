#!/bin/sh
# The one user's password comes from the environment (POSTGRES_USER / POSTGRES_PASSWORD), never the image:
# clients authenticate against it (SCRAM), and PgBouncer logs in to PostgreSQL with it.
set -eu
umask 077
quote() { printf '"%s"' "$(printf '%s' "$1" | sed 's/"/""/g')"; }  # a " in the file is written ""
printf '%s %s\n' "$(quote "${POSTGRES_USER:-loyalty}")" "$(quote "$POSTGRES_PASSWORD")" > /etc/pgbouncer/userlist.txt
chown postgres:postgres /etc/pgbouncer/userlist.txt
exec pgbouncer -u postgres /etc/pgbouncer/pgbouncer.ini
