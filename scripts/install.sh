#!/usr/bin/env bash
# Create .venv with a Python >= 3.12, install the project with its dev extras,
# and compile the translations. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}

python_ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }

find_python() {
  local candidate
  for candidate in python3.13 python3.12 python3; do
    if command -v "$candidate" >/dev/null && python_ok "$(command -v "$candidate")"; then
      command -v "$candidate"; return 0
    fi
  done
  if command -v pyenv >/dev/null; then
    local root; root=$(pyenv root)
    for candidate in $(ls -d "$root"/versions/3.1[2-9]* 2>/dev/null | sort -rV); do
      for exe in "$candidate"/bin/python3.1[2-9] "$candidate"/bin/python3; do
        if [ -x "$exe" ] && python_ok "$exe"; then echo "$exe"; return 0; fi
      done
    done
  fi
  return 1
}

if [ ! -x "$VENV/bin/python" ] || ! python_ok "$VENV/bin/python"; then
  if ! PYTHON=$(find_python); then
    echo "FluenzR needs Python 3.12 or newer, and none was found on PATH or in pyenv." >&2
    echo "Install one (e.g. 'pyenv install 3.12' or 'apt-get install python3.12 python3.12-venv') and run again." >&2
    exit 1
  fi
  echo "==> creating $VENV with $PYTHON ($("$PYTHON" --version))"
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
fi

echo "==> installing FluenzR and its dev extras into $VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -e ".[dev]"

if ! command -v msgfmt >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "==> installing gettext (msgfmt) to compile translations"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gettext >/dev/null
  else
    echo "msgfmt (GNU gettext) is missing: install the 'gettext' package and run again." >&2
    exit 1
  fi
fi
echo "==> compiling translations"
DEBUG=1 "$VENV/bin/python" manage.py compilemessages --ignore="$VENV" --ignore=var >/dev/null
