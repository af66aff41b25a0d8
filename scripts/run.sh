#!/usr/bin/env bash
# Install and run the Job Center on its embedded default (SQLite under var/): the web server
# (admin + API) on http://$HOST:$PORT and a worker, started again when it crashes. Ctrl-C
# stops both.
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
# A worker that ends on its own crashed (kill -9, out of memory…): it is started again after
# a short pause, so that a worker crash never takes the admin and the API offline with it;
# after several crashes in a row, each soon after its start, it is left stopped (restarting
# what cannot start only fills the log) and the web server keeps serving. The web server
# ending on its own stops everything.
RESTART_DELAY=2         # seconds before a crashed worker is started again
QUICK_CRASH_SECONDS=30  # a worker that crashes sooner than this after its start counts...
MAX_QUICK_CRASHES=5     # ...towards this many in a row, then it is not started again
web=""
worker=""
worker_started=0
quick_crashes=0
stops=0
stop() {
  stops=$((stops + 1))
  if [ $stops -eq 1 ]; then
    echo "Stopping: running jobs may finish (Ctrl-C again to stop at once)..."
  fi
  kill -TERM $web $worker 2>/dev/null || true
}
trap stop INT TERM
trap 'kill -TERM $web $worker 2>/dev/null || true' EXIT

start_worker() {
  setsid $PY manage.py runworker &
  worker=$!
  worker_started=$SECONDS
}

# ended_how STATUS: how a process ended, from the status wait gave
ended_how() {
  if [ "$1" -gt 128 ]; then echo "killed by signal $(($1 - 128))"; else echo "exit status $1"; fi
}

setsid .venv/bin/uvicorn jobcenter.asgi:application --host "$HOST" --port "$PORT" \
  --lifespan off --no-access-log &
web=$!
start_worker
echo "Job Center: http://$HOST:$PORT/admin/  API: http://$HOST:$PORT/api/docs  (Ctrl-C stops)"

while [ -n "$web$worker" ]; do
  ended=""
  code=0
  # Returns when one of them ends (-p names it), or at once when a signal ran the trap.
  wait -n -p ended $web $worker 2>/dev/null || code=$?
  if [ -z "${ended:-}" ]; then
    continue
  elif [ "$ended" = "$web" ]; then
    web=""
    if [ $stops -eq 0 ]; then
      echo "The web server stopped ($(ended_how "$code")); stopping the worker."
      stop
    fi
    continue
  fi
  worker=""
  # Children a crashed worker leaves are orphans in its process group: their jobs are lost
  # with it (the next worker takes them back when their leases run out), so they go too.
  kill -KILL -- "-$ended" 2>/dev/null || true
  [ $stops -eq 0 ] && [ -n "$web" ] || continue
  if [ $((SECONDS - worker_started)) -lt $QUICK_CRASH_SECONDS ]; then
    quick_crashes=$((quick_crashes + 1))
  else
    quick_crashes=1
  fi
  how=$(ended_how "$code")
  if [ $quick_crashes -ge $MAX_QUICK_CRASHES ]; then
    echo "The worker (pid $ended) stopped unexpectedly ($how) and has now crashed" \
      "$quick_crashes times in a row, each within ${QUICK_CRASH_SECONDS} s of its start:" \
      "not starting it again. The web server keeps serving, but no job runs until a worker" \
      "does: see the worker's output above, then Ctrl-C and run scripts/run.sh again."
    continue
  fi
  echo "The worker (pid $ended) stopped unexpectedly ($how); starting a new one in" \
    "${RESTART_DELAY} s."
  # In the background, so that a Ctrl-C during the pause is handled at once.
  sleep "$RESTART_DELAY" &
  pause=$!
  wait $pause 2>/dev/null || true
  kill $pause 2>/dev/null || true
  [ $stops -eq 0 ] && start_worker
done
echo "Stopped."
