#!/usr/bin/env bash
# Install everything the tests need and run every test: lint, Django checks, the docs build,
# then the whole pytest suite on SQLite and again on PostgreSQL ($DATABASE_URL, default
# postgres://postgres@127.0.0.1:5432/test). Fails, never skips, when PostgreSQL is unreachable.
# Extra arguments go to pytest (e.g. scripts/test.sh -k batch).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

PG_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}
MONGO_URL=${MONGODB_URI:-}   # when set, the suite runs a third time, on that MongoDB
unset DATABASE_URL MONGODB_URI

ensure_packages "${RUNTIME_PACKAGES[@]}"
ensure_packages "${TEST_PACKAGES[@]}"
ensure_venv requirements-dev.txt
ensure_native
PY=.venv/bin/python
step() { printf '\n== %s\n' "$*"; }

step "ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

step "Django checks and migrations"
$PY manage.py check
$PY manage.py makemigrations --check --dry-run
DEBUG=0 JOBCENTER_HTTPS=1 ALLOWED_HOSTS=jobs.example.org \
  SECRET_KEY="$($PY -c 'import secrets; print(secrets.token_urlsafe(50))')" \
  $PY manage.py check --deploy --fail-level WARNING

step "docs (mkdocs build --strict)"
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir var/site

# The pg_restart test restarts the PostgreSQL server; it runs once, in its own step below.
step "pytest on SQLite"
$PY -m pytest -m "not pg_restart" "$@"

step "pytest on PostgreSQL ($PG_URL)"
if ! $PY - "$PG_URL" <<'PYCODE'
import sys, psycopg
try:
    psycopg.connect(sys.argv[1], connect_timeout=5).close()
except Exception as exc:
    sys.exit(f"error: PostgreSQL at {sys.argv[1]} is unreachable: {exc}")
PYCODE
then
  echo "The suite must also pass on PostgreSQL; start it (see docs/development.md) and rerun." >&2
  exit 1
fi
DATABASE_URL=$PG_URL $PY -m pytest -m "not pg_restart" "$@"

step "PostgreSQL restarted while workers drain"
DATABASE_URL=$PG_URL $PY -m pytest -m pg_restart tests/acceptance/test_worker_postgres.py

if [ -n "$MONGO_URL" ]; then
  step "pytest on MongoDB (MONGODB_URI is set; see docs/mongodb.md)"
  MONGODB_URI=$MONGO_URL $PY -m pytest -m "not pg_restart" "$@"
fi
