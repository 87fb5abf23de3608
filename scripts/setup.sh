#!/usr/bin/env bash
# Create .venv with a Python >= 3.12 (Mesa 3.5 needs it) and install everything the project uses.
set -euo pipefail
cd "$(dirname "$0")/.."

ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }

find_python() {
    local c
    for c in "${PYTHON:-}" python3.13 python3.12 python3 python; do
        [ -n "$c" ] && command -v "$c" >/dev/null 2>&1 && ok "$(command -v "$c")" && { command -v "$c"; return; }
    done
    local roots=("${PYENV_ROOT:-$HOME/.pyenv}/versions" /usr/local/bin /opt/python)
    for c in $(ls -d "${roots[0]}"/3.1[2-9]*/bin/python 2>/dev/null | sort -rV) \
             /usr/local/bin/python3.1[2-9] /usr/bin/python3.1[2-9]; do
        [ -x "$c" ] && ok "$c" && { echo "$c"; return; }
    done
    return 1
}

if [ -x .venv/bin/python ] && ok .venv/bin/python; then
    py=.venv/bin/python
else
    base=$(find_python) || { echo "setup: no Python >= 3.12 found (set PYTHON=/path/to/python3.12)" >&2; exit 2; }
    echo "setup: creating .venv with $base ($("$base" --version))"
    rm -rf .venv
    "$base" -m venv .venv
    py=.venv/bin/python
fi
# Some machines list local package folders that do not exist; pip warns once per package about them.
quiet_pip() { "$py" -m pip install --quiet "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
quiet_pip --upgrade pip
quiet_pip -r requirements.txt
# The browser view's front-end files, so `run.py viz` works with no internet (npm registry).
bash scripts/fetch_solara_assets.sh "$py"
touch .venv/.installed
echo "setup: ready ($("$py" --version), $(.venv/bin/python -c 'import mesa; print("mesa", mesa.__version__)'))"
