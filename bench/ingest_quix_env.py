"""The Quix Streams peer's own virtual environment, built on first use from `requirements-bench-quix.lock`.

WHY a venv of its own: quixstreams 3.28.1 requires pydantic<2.14 and pydantic-settings<2.16, below the
versions the engine is locked at (requirements.lock). The engine's pins never move for a benchmark
dependency, so the peer runs in `.omnitrack/cache/bench-quix-venv`, installed with hashes from its own lock
(`scripts/lock.sh` writes both locks). The venv is rebuilt when the lock is newer than its stamp.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements-bench-quix.lock"
VENV = ROOT / ".omnitrack" / "cache" / "bench-quix-venv"


def quix_python(install: bool = True) -> Path | None:
    """The peer venv's interpreter; built from the lock if missing or stale (None if `install` is False and
    it is not ready, or if the lock is missing)."""
    python, stamp = VENV / "bin" / "python", VENV / ".installed"
    if not LOCK.exists():
        return None
    if python.exists() and stamp.exists() and stamp.stat().st_mtime >= LOCK.stat().st_mtime:
        return python
    if not install:
        return None
    print(f"bench: building the Quix Streams peer's venv in {VENV} from {LOCK.name}", flush=True)
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--require-hashes",
                    "--no-deps", "-r", str(LOCK)], check=True)
    stamp.touch()
    return python
