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
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}" >&2
    sudo_cmd=""
    [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -m pip install -q --disable-pip-version-check -e '.[test]'

echo "== ruff" >&2
python3 -m ruff check okdrelease tests benchmarks testdata
python3 -m ruff format --check okdrelease tests benchmarks testdata
echo "== mypy" >&2
python3 -m mypy
echo "== pytest" >&2
python3 -m pytest -q "$@"
