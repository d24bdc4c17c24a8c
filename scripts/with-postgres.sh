#!/usr/bin/env bash
# Run a command with a throwaway PostgreSQL cluster (Debian's postgresql package, no
# containers): initdb into a temporary directory, start it on a free port of 127.0.0.1, export
# PUFA_TEST_POSTGRES=postgres://postgres@127.0.0.1:PORT/postgres (the tests create a database
# of their own on it for every server they start), run "$@", stop and remove the cluster.
# As root the server runs as the `postgres` user, since PostgreSQL refuses to run as root.
set -euo pipefail
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL is not installed (make deps installs postgresql)" >&2; exit 1; }
dir=$(mktemp -d -t pufa-pg.XXXXXX)
as=()
if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; as=(runuser -u postgres --); fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
stop() {
	"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap stop EXIT
"${as[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
"${as[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
	-o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=500 -c fsync=off -c synchronous_commit=off" \
	start >/dev/null
export PUFA_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres"
"$@"
