#!/usr/bin/env bash
# A throwaway PostgreSQL server for the Dagster instance, on loopback, in a folder of its own.
#
#   scripts/local_postgres.sh start DIR [PORT]   initialise DIR if needed, start the server, print its URL
#   scripts/local_postgres.sh stop DIR           stop it (the data stays in DIR)
#
# Uses Debian's `postgresql` package (installed with apt-get when missing, which needs root).
# Authentication is `trust` on 127.0.0.1 only: a development and CI server, not a production
# one. As root the server runs as the `postgres` system user (PostgreSQL refuses to run as root).
set -euo pipefail

cmd=${1:?usage: local_postgres.sh start|stop DIR [PORT]}
dir=${2:?usage: local_postgres.sh start|stop DIR [PORT]}
port=${3:-54329}

bindir() {
    local found
    found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -z "$found" ]; then
        if [ "$(id -u)" != 0 ]; then
            echo "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)" >&2
            exit 1
        fi
        echo "installing Debian's postgresql package" >&2
        apt-get update -qq >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >&2
        found=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    echo "$found"
}

as_owner() {  # run a server command as the owner of the data folder
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
    bin=$(bindir)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; chmod 700 "$dir"; fi
    if [ ! -f "$dir/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$dir" -U postgres -A trust -E UTF8 --no-instructions >/dev/null
    fi
    as_owner "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null \
        || { cat "$dir/server.log" >&2; exit 1; }
    "$bin/pg_isready" -h 127.0.0.1 -p "$port" -t 30 >/dev/null
    echo "postgresql://postgres@127.0.0.1:$port/postgres"
    ;;
stop)
    bin=$(bindir)
    if [ -f "$dir/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null
    fi
    ;;
*)
    echo "unknown command $cmd (start|stop)" >&2
    exit 2
    ;;
esac
