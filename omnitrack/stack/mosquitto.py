"""Mosquitto from Debian with the project's policy, a plain and an mTLS listener.

Why both listeners: the plain loopback one is for development tools and the
bridge; the TLS one requires a client certificate the way AWS IoT Core does,
so device code is tested on the same authentication path as in production.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from omnitrack.settings import Settings, project_root
from omnitrack.stack import certs
from omnitrack.stack.errors import StackError
from omnitrack.stack.process import ManagedProcess
from omnitrack.stack.readiness import port_open, wait_until

READY_DEADLINE_S = 20.0
"""Mosquitto starts in milliseconds; a longer wait only hides a bad config."""

CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def process(settings: Settings) -> ManagedProcess:
    return ManagedProcess("mosquitto", settings.resolved_stack_dir / "run", marker="mosquitto.conf")


def certs_dir(settings: Settings) -> Path:
    return settings.resolved_stack_dir / "certs"


def binary() -> str:
    """The mosquitto executable, installed from Debian's packages if missing."""
    found = shutil.which("mosquitto") or next((c for c in CANDIDATES if os.access(c, os.X_OK)), None)
    if found:
        return found
    apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "-n", "apt-get"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in ([*apt, "update", "-q"], [*apt, "install", "-y", "-q", "mosquitto"]):
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600, check=False)  # noqa: S603
        if result.returncode != 0:
            raise StackError("mosquitto", f"`{' '.join(argv)}` failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    found = shutil.which("mosquitto") or next((c for c in CANDIDATES if os.access(c, os.X_OK)), None)
    if not found:
        raise StackError("mosquitto", "installed the Debian package but found no mosquitto binary")
    return found


def ensure_certs(settings: Settings) -> dict[str, certs.CertPair]:
    """CA, broker certificate, and client certificates for a sample device and the bridge."""
    directory = certs_dir(settings)
    return {
        "ca": certs.ensure_ca(directory),
        "server": certs.issue(directory, "server", server=True),
        "device": certs.issue(directory, "device-0001", server=False),
        "bridge": certs.issue(directory, "omnitrack-bridge", server=False),
    }


def _config(settings: Settings, pairs: dict[str, certs.CertPair]) -> Path:
    """This machine's config: listeners and paths, including the shared policy in deploy/mosquitto/conf.d."""
    base = settings.resolved_stack_dir / "mosquitto"
    (base / "data").mkdir(parents=True, exist_ok=True)
    # Debian's mosquitto drops to the `mosquitto` user when started as root and
    # then cannot read our root-only keys or write its store.
    user = "user root\n" if os.geteuid() == 0 else ""
    text = (
        "# Written by `omnitrack stack up`; the policy is in deploy/mosquitto/conf.d/.\n"
        f"{user}"
        "per_listener_settings true\n"
        f"include_dir {project_root() / 'deploy' / 'mosquitto' / 'conf.d'}\n"
        f"persistence_location {base / 'data'}/\n"
        f"\nlistener {settings.mqtt_port} {settings.mqtt_host}\n"
        "allow_anonymous true\n"
        f"\nlistener {settings.mqtts_port} {settings.mqtt_host}\n"
        "allow_anonymous false\n"
        f"cafile {pairs['ca'].cert}\n"
        f"certfile {pairs['server'].cert}\n"
        f"keyfile {pairs['server'].key}\n"
        "require_certificate true\n"
        "use_identity_as_username true\n"
        "tls_version tlsv1.2\n"
    )
    path = base / "mosquitto.conf"
    path.write_text(text)
    return path


def connect_ok(host: str, port: int, timeout_s: float = 3.0) -> bool:
    """True when the broker accepts an MQTT CONNECT (not merely a TCP connection)."""
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="", clean_session=True)
    try:
        client.connect(host, port, keepalive=5)
        client.loop_start()
        import time

        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if client.is_connected():
                return True
            time.sleep(0.02)
        return False
    except OSError:
        return False
    finally:
        client.loop_stop()
        client.disconnect()


def up(settings: Settings) -> None:
    """Start Mosquitto unless it already runs; wait until both listeners accept."""
    proc = process(settings)
    pairs = ensure_certs(settings)
    if not proc.running():
        for port in (settings.mqtt_port, settings.mqtts_port):
            if port_open(settings.mqtt_host, port):
                raise StackError("mosquitto", f"port {port} is taken by another process; stop it or set OMNITRACK_MQTT_PORT")
        exe = binary()
        config = _config(settings, pairs)
        proc.start([exe, "-c", str(config)])
    wait_until(lambda: connect_ok(settings.mqtt_host, settings.mqtt_port), component="mosquitto",
               what=f"MQTT CONNECT accepted on {settings.mqtt_host}:{settings.mqtt_port}",
               deadline_s=READY_DEADLINE_S, log=proc.log, abort=proc.exited_early)
    wait_until(lambda: port_open(settings.mqtt_host, settings.mqtts_port), component="mosquitto",
               what=f"TLS listener on {settings.mqtt_host}:{settings.mqtts_port}",
               deadline_s=READY_DEADLINE_S, log=proc.log, abort=proc.exited_early)


def down(settings: Settings) -> bool:
    """Stop Mosquitto; True if it was running."""
    return process(settings).stop()
