#!/usr/bin/env bash
# Refreshes requirements.lock: the exact versions, with their hashes, that scripts/bootstrap.sh installs.
#
# Run it on purpose, never as a side effect: after changing a dependency in pyproject.toml (pins already in
# the lock are kept where they still fit), or with --upgrade to take the newest releases allowed by the
# ranges (--upgrade-package NAME for one). Then run `make test` and commit pyproject.toml, requirements.lock
# and requirements-build.in together: CI installs exactly what the lock says.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
PIP_TOOLS_VERSION=7.6.2

tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
"$PYTHON" -m venv "$tools/venv"
"$tools/venv/bin/python" -m pip install -q "pip-tools==$PIP_TOOLS_VERSION"
CUSTOM_COMPILE_COMMAND="scripts/lock.sh" "$tools/venv/bin/pip-compile" -q \
  --extra dev --allow-unsafe --generate-hashes --reuse-hashes --strip-extras --no-emit-find-links \
  --output-file requirements.lock "$@" requirements-build.in pyproject.toml
echo "lock: requirements.lock written ($(grep -c '==' requirements.lock) pins)"
# The benchmark's Quix Streams peer (`bench` extra of pyproject.toml) pins pydantic and pydantic-settings below
# the engine's, so it gets a lock (and a venv, made by the bench on first use) of its own: the engine's pins
# above never move for a benchmark dependency.
CUSTOM_COMPILE_COMMAND="scripts/lock.sh" "$tools/venv/bin/pip-compile" -q \
  --allow-unsafe --generate-hashes --reuse-hashes --strip-extras --no-emit-find-links \
  --output-file requirements-bench-quix.lock "$@" requirements-bench-quix.in
echo "lock: requirements-bench-quix.lock written ($(grep -c '==' requirements-bench-quix.lock) pins)"
