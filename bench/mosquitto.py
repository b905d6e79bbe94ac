"""A private Mosquitto for a benchmark run: its own port, the project's limits, no persistence.

Why: MQTT topics carry no deployment prefix, so on the shared broker every bridge (whatever its share group)
also takes any other fleet's readings, and the figures would be someone else's too. Worse for a developer:
`omnitrack run`'s bridge keeps a persistent session on the stack's Mosquitto, so while the engine is stopped
the broker queues every reading a bench publishes there, and the next `make run` replays them all into the twin.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

SETTINGS = """per_listener_settings true
persistence false
max_queued_messages 0
max_queued_bytes 0
max_inflight_messages 0
max_inflight_bytes 0
max_packet_size 132096
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
user root
listener {port} 127.0.0.1
allow_anonymous true
"""
"""deploy/mosquitto/conf.d/omnitrack.conf's limits (none that drops QoS 1), on one private plain listener."""

START_DEADLINE_S = 20.0


def private_mosquitto(out: Path) -> tuple[subprocess.Popen, int]:
    """Start a Mosquitto writing its config and log under `out`; returns the process and its port."""
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = out / "mosquitto.conf"
    conf.write_text(SETTINGS.format(port=port))
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=open(out / "mosquitto.log", "ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    end = time.monotonic() + START_DEADLINE_S
    while time.monotonic() < end and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"private mosquitto did not start: {(out / 'mosquitto.log').read_text()[-1000:]}")
