#!/bin/sh
# The primary's side of streaming replication (docker-compose.yml, service db; run once, when the
# official image initialises an empty data directory): a role that may only replicate, and the
# pg_hba.conf line that lets it connect for replication from the compose network.  For a database
# initialised before, run the same two steps by hand (docs/scaling.md, "Read replica").
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v password="$REPLICATION_PASSWORD" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'password';
SQL
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"
