#!/usr/bin/env bash
# The project's test command: installs what is missing, then runs ruff, mypy and pytest.
# Usage: bash tests/run.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v skopeo >/dev/null 2>&1 || missing+=(skopeo)
command -v umoci >/dev/null 2>&1 || missing+=(umoci)
command -v gpg >/dev/null 2>&1 || missing+=(gpg)
[ -n "${VIRTUAL_ENV:-}" ] || python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}" >&2
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# A virtual environment of our own (.venv, ignored by git) unless one is active: the project and its
# test extras are installed there, never into whatever python3 happens to be first on PATH.
if [ -z "${VIRTUAL_ENV:-}" ]; then
    if [ ! -x .venv/bin/python ]; then
        echo "creating the virtual environment .venv" >&2
        python3 -m venv .venv
    fi
    # shellcheck disable=SC1091
    . .venv/bin/activate
fi
# Reinstall only when pyproject.toml changed (the install is editable: source changes need none).
stamp="$VIRTUAL_ENV/.okdrelease-install-stamp"
wanted="$(python -c 'import hashlib,sys; print(hashlib.sha256(open("pyproject.toml","rb").read()).hexdigest(), sys.argv[1])' "$PWD")"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "installing okdrelease[test] into $VIRTUAL_ENV" >&2
    python -m pip install -q --disable-pip-version-check -e '.[test]'
    echo "$wanted" >"$stamp"
fi

echo "== ruff" >&2
python -m ruff check okdrelease tests benchmarks testdata
python -m ruff format --check okdrelease tests benchmarks testdata
echo "== mypy" >&2
python -m mypy
echo "== pytest" >&2
python -m pytest -q "$@"
