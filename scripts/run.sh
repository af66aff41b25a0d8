#!/usr/bin/env bash
# Install and run the Job Center on its embedded default (SQLite under var/): the web server
# (admin + API) on http://$HOST:$PORT and a worker. Ctrl-C stops both.
# Environment: HOST (127.0.0.1), PORT (8000), DATABASE_URL / MONGODB_URI (docs/configuration.md).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8000}

ensure_packages "${RUNTIME_PACKAGES[@]}"
ensure_venv requirements.txt
ensure_native
PY=.venv/bin/python

$PY manage.py migrate --noinput -v 0
$PY manage.py collectstatic --noinput -v 0
$PY manage.py bootstrap_admin

# Both run in sessions of their own, so a Ctrl-C reaches only this script, which passes one
# SIGTERM to each: the first lets the worker finish its running jobs (up to 30 s), a second
# Ctrl-C stops it at once.
pids=()
stops=0
stop() {
  stops=$((stops + 1))
  if [ $stops -eq 1 ]; then
    echo "Stopping: running jobs may finish (Ctrl-C again to stop at once)..."
  fi
  kill -TERM "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM
trap 'kill -TERM "${pids[@]}" 2>/dev/null || true' EXIT

setsid .venv/bin/uvicorn jobcenter.asgi:application --host "$HOST" --port "$PORT" \
  --lifespan off --no-access-log &
pids+=($!)
setsid $PY manage.py runworker &
pids+=($!)
echo "Job Center: http://$HOST:$PORT/admin/  API: http://$HOST:$PORT/api/docs  (Ctrl-C stops)"

# Wait until both have ended; when one ends on its own, stop the other.
while :; do
  wait -n "${pids[@]}" 2>/dev/null || true
  alive=()
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then alive+=("$pid"); fi
  done
  [ ${#alive[@]} -eq 0 ] && break
  if [ ${#alive[@]} -lt ${#pids[@]} ] && [ $stops -eq 0 ]; then stop; fi
done
echo "Stopped."
