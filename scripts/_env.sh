# Sourced by scripts/*: create (once) and activate the project's virtual environment.
# VENV overrides where it lives (helpers share one across work trees).
set -euo pipefail
# Asked for `--help` or `-h`: the script answers it and installs nothing else (no load
# generator, no HAProxy, no browser); the virtual environment is still made, since its
# Python prints the usage. (Scripts with positional arguments source scripts/_help.sh.)
PORTICO_HELP=""
for arg in "$@"; do
  case "$arg" in -h | --help) PORTICO_HELP=1 ;; esac
done
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Portico needs Python 3.11 or newer (found: $("$PY" --version 2>&1))." >&2
  exit 1
fi
stamp="$VENV/.portico-installed"
if [ ! -x "$VENV/bin/python" ]; then
  echo "Creating the virtual environment in $VENV ..." >&2
  "$PY" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
  echo "Installing Portico and its dependencies (first run takes a minute) ..." >&2
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip >&2
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT[dev]" >&2
  touch "$stamp"
fi
export PATH="$VENV/bin:$PATH"
cd "$ROOT"
