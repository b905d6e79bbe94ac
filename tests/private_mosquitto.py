"""A private Mosquitto for tests that kill their broker: the session stack's broker, which other tests use, is
never the one killed. Shared by the fault suite and the device-replay tests."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

__all__ = ["start_mosquitto", "mosquitto_binary"]

LISTEN_DEADLINE_S = 20.0
"""Longest wait for a started broker to accept connections: a broker that cannot start fails the test here."""


def mosquitto_binary() -> str:
    return shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def start_mosquitto(folder: Path, port: int, config: str, log: IO[bytes] | int = subprocess.DEVNULL) -> subprocess.Popen:
    """Write `config` (the whole configuration; its listener is the caller's) to `folder`/mosquitto.conf, start
    the broker in its own process group (killable with os.killpg) and wait until it listens on `port`."""
    folder.mkdir(exist_ok=True)
    conf = folder / "mosquitto.conf"
    conf.write_text(config)
    proc = subprocess.Popen([mosquitto_binary(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    end = time.monotonic() + LISTEN_DEADLINE_S
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            if proc.poll() is not None:
                raise AssertionError(f"mosquitto exited with {proc.returncode} (config {conf})") from None
            time.sleep(0.05)
    raise AssertionError(f"timed out after {LISTEN_DEADLINE_S}s waiting for mosquitto on port {port}")
