#!/usr/bin/env bash
# Installs moto's server into a virtualenv under ~/.cache (outside the repo,
# so CI's fresh clones reuse it). Idempotent; the tests find it there.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$HOME/.cache/mlops-rollback/moto-venv"
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null; then
    echo "install-moto: $python not found; install Python 3 (apt-get install python3 python3-venv)" >&2
    exit 1
fi
stamp="$venv/.requirements"
if [ -x "$venv/bin/python" ] && cmp -s "$here/requirements.txt" "$stamp"; then
    echo "install-moto: $venv is up to date"
    exit 0
fi
echo "install-moto: installing $(grep -v '^#' "$here/requirements.txt" | tr '\n' ' ')into $venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
cp "$here/requirements.txt" "$stamp"
"$venv/bin/python" -c "import moto; print('install-moto: moto', moto.__version__)"
