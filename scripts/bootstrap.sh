#!/usr/bin/env bash
# Prepares a fresh Debian machine for OmniTrack: system packages, then the
# Python virtual environment with the project installed. Idempotent: each step
# is skipped when its result is already there. Kafka's jars and Mosquitto
# itself are provisioned by the stack on first use (omnitrack stack up).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"

need_apt=()
command -v java >/dev/null 2>&1 || need_apt+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || need_apt+=(maven)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
# the API console's browser tests (tests/streams/api/test_console.py) drive Debian's chromium with Playwright:
# no browser download at run time
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || need_apt+=(python3-venv)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  echo "bootstrap: installing Debian packages: ${need_apt[*]}"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need_apt[@]}"
fi

"$PYTHON" - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"OmniTrack needs Python >= 3.11, found {sys.version.split()[0]}")
PY

# Installs are reproducible: every package, pip and the build tools included, comes from requirements.lock
# at the version and hash CI passed with (scripts/lock.sh refreshes it on purpose). The project itself is
# installed without resolving anything (--no-deps) and built with the locked setuptools.
stamp="$VENV/.omnitrack-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
  echo "bootstrap: creating $VENV and installing omnitrack[dev] from requirements.lock"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
  # A dependency added to pyproject.toml but not to the lock fails here, by name, not later at import time.
  "$VENV/bin/python" -m pip check || {
    echo "bootstrap: requirements.lock does not satisfy pyproject.toml; run scripts/lock.sh" >&2; exit 1; }
  touch "$stamp"
fi
