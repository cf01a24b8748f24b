#!/usr/bin/env bash
# Migrate, then start web + Celery worker + Celery beat together (Procfile, honcho).
# With no DATABASE_URL / REDIS_URL this runs on the embedded default: a SQLite file and
# a file-system Celery broker under var/, so no server is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export DEBUG=${DEBUG:-1}
export PORT=${PORT:-8000}
mkdir -p var
"$VENV/bin/python" manage.py migrate --noinput
if [ -z "${DATABASE_URL:-}" ]; then db="SQLite (var/fluenzr.sqlite3)"; else db="DATABASE_URL"; fi
if [ -z "${REDIS_URL:-}" ]; then broker="file-system broker (var/celery/)"; else broker="REDIS_URL"; fi
echo
echo "  FluenzR is starting on $db with the $broker."
echo "  Open http://127.0.0.1:$PORT/ and sign up."
echo
exec "$VENV/bin/honcho" --procfile Procfile start
