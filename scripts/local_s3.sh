#!/usr/bin/env bash
# A throwaway S3-compatible server (moto's standalone server) on loopback, for the warehouse on
# object storage (VOLSIGNALS_WAREHOUSE=s3://bucket/prefix) and its tests.
#
#   scripts/local_s3.sh start DIR [PORT]   start the server (pid and log in DIR), print its endpoint
#   scripts/local_s3.sh stop DIR           stop it
#
# moto comes with the project's dev extras (pip install -e '.[dev]'); the server is run with
# $VOLSIGNALS_PYTHON (default .venv/bin/python, else python3). It keeps objects in memory: they
# are gone when it stops. Any key pair is accepted; use the region us-east-1. Plain HTTP, so
# clients need AWS_ALLOW_HTTP=true. A development and CI server, not a production one.
set -euo pipefail

cmd=${1:?usage: local_s3.sh start|stop DIR [PORT]}
dir=${2:?usage: local_s3.sh start|stop DIR [PORT]}
port=${3:-50900}
here=$(cd "$(dirname "$0")/.." && pwd)
python=${VOLSIGNALS_PYTHON:-$here/.venv/bin/python}
[ -x "$python" ] || python=python3

case "$cmd" in
start)
    mkdir -p "$dir"
    if [ -f "$dir/moto.pid" ] && kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null; then
        echo "a server started from $dir is running already (pid $(cat "$dir/moto.pid"))" >&2
        exit 1
    fi
    "$python" -c 'import moto.server' 2>/dev/null \
        || { echo "moto's server is not installed for $python: pip install -e '.[dev]'" >&2; exit 1; }
    nohup "$python" -m moto.server -H 127.0.0.1 -p "$port" >"$dir/server.log" 2>&1 &
    echo $! >"$dir/moto.pid"
    endpoint="http://127.0.0.1:$port"
    for _ in $(seq 1 120); do  # ready when it answers HTTP (a second or two)
        if "$python" -c "import urllib.request, sys; urllib.request.urlopen(sys.argv[1], timeout=1)" \
            "$endpoint/moto-api/" 2>/dev/null; then
            echo "$endpoint"
            exit 0
        fi
        if ! kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null; then break; fi
        sleep 0.5
    done
    cat "$dir/server.log" >&2
    echo "moto's S3 server did not start on $endpoint" >&2
    exit 1
    ;;
stop)
    if [ -f "$dir/moto.pid" ]; then
        pid=$(cat "$dir/moto.pid")
        if kill -0 "$pid" 2>/dev/null; then
            kill "$pid"
            for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        fi
        rm -f "$dir/moto.pid"
    fi
    ;;
*)
    echo "unknown command $cmd (start|stop)" >&2
    exit 2
    ;;
esac
