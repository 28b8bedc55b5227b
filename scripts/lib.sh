# Shared by the scripts: where things run and how to start and stop them.
# shellcheck shell=bash
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$ROOT/.venv}
RUN=${PIXELFLOW_RUN_DIR:-$ROOT/.run}
PY=$VENV/bin/python
mkdir -p "$RUN"
export PATH="$VENV/bin:$PATH"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

# Local S3-compatible server (nanio), unless PIXELFLOW_S3_ENDPOINT points elsewhere.
export PIXELFLOW_S3_ENDPOINT=${PIXELFLOW_S3_ENDPOINT:-127.0.0.1:9000}
export PIXELFLOW_S3_ACCESS_KEY=${PIXELFLOW_S3_ACCESS_KEY:-pixelflow}
export PIXELFLOW_S3_SECRET_KEY=${PIXELFLOW_S3_SECRET_KEY:-pixelflow-secret}
export PIXELFLOW_DATABASE_URL=${PIXELFLOW_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/pixelflow}
API_BIND=${PIXELFLOW_API_BIND:-127.0.0.1:8080}

say() { printf '%s\n' "$*" >&2; }

# start NAME CMD...: run CMD in the background, pid in $RUN/NAME.pid, log in $RUN/NAME.log
start() {
  local name=$1; shift
  if running "$name"; then say "$name already running (pid $(cat "$RUN/$name.pid"))"; return; fi
  setsid "$@" >"$RUN/$name.log" 2>&1 < /dev/null &
  echo $! >"$RUN/$name.pid"
  say "started $name (pid $!, log $RUN/$name.log)"
}

running() { [ -f "$RUN/$1.pid" ] && kill -0 "$(cat "$RUN/$1.pid")" 2>/dev/null; }

# stop NAME…: TERM every process group at once, then KILL what is left after 10 s (10 s in all, not per name).
stop() {
  local name pid left
  declare -A pids=()
  for name in "$@"; do
    [ -f "$RUN/$name.pid" ] || continue
    pid=$(cat "$RUN/$name.pid")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      pids[$name]=$pid
    else
      rm -f "$RUN/$name.pid"
    fi
  done
  for _ in $(seq 100); do
    left=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    [ "$left" = 0 ] && break
    sleep 0.1
  done
  for name in "${!pids[@]}"; do
    kill -KILL -- "-${pids[$name]}" 2>/dev/null || true
    rm -f "$RUN/$name.pid"
    say "stopped $name"
  done
}

# wait_for URL SECONDS: until URL answers 2xx.
wait_for() {
  local url=$1 secs=${2:-30}
  for _ in $(seq $((secs * 5))); do
    "$PY" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" "$url" 2>/dev/null && return 0
    sleep 0.2
  done
  say "$url did not answer within ${secs}s"; return 1
}

start_s3() {
  local host=${PIXELFLOW_S3_ENDPOINT%:*} port=${PIXELFLOW_S3_ENDPOINT##*:}
  mkdir -p "$RUN/s3-data"
  NANIO_ACCESS_KEY=$PIXELFLOW_S3_ACCESS_KEY NANIO_SECRET_KEY=$PIXELFLOW_S3_SECRET_KEY \
    start s3 nanio serve --data-dir "$RUN/s3-data" --host "$host" --port "$port" --no-access-log
  wait_port "$host" "$port" 20
  # The dashboard's browser PUTs uploads to presigned URLs: nanio answers no CORS, so clients get a front that
  # does, for the API's origin (tests/support/cors.py); AWS S3, MinIO and SeaweedFS take a CORS rule instead.
  local front=${PIXELFLOW_S3_CORS_PORT:-9001}
  start s3-cors "$PY" -m tests.support.cors "$PIXELFLOW_S3_ENDPOINT" "http://$API_BIND" "$front"
  wait_port 127.0.0.1 "$front" 20
  export PIXELFLOW_S3_PUBLIC_ENDPOINT="127.0.0.1:$front"
}

# wait_port HOST PORT SECONDS: until a TCP connection succeeds.
wait_port() {
  "$PY" - "$@" <<'PY' || { say "$1:$2 did not open within ${3}s"; return 1; }
import socket, sys, time
host, port, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
deadline = time.monotonic() + secs
while True:
    try:
        socket.create_connection((host, port), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.1)
PY
}
