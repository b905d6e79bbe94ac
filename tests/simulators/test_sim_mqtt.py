"""The fleet against the real local Mosquitto: a subscriber receives exactly what was published."""

from __future__ import annotations

import json
import shutil
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlparse

import paho.mqtt.client as mqtt
import pytest

from sim_helpers import tiny_network
from simulators.fleet import FleetConfig, run_fleet
from twin.telemetry import decode_reading

pytestmark = pytest.mark.integration


class Counter:
    """A QoS 1 subscriber on the test's own sites, counting messages and readings."""

    def __init__(self, host: str, port: int, sites: list[str]) -> None:
        self.messages = self.readings = self.invalid = 0
        self.lock = threading.Lock()
        self.subscribed = threading.Event()
        self.host, self.port = host, port
        self.marker_topic = f"dt/{sites[0]}/marker-{uuid.uuid4().hex[:8]}"
        self.marker = threading.Event()
        self.c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sim-test-{uuid.uuid4().hex[:8]}")
        self.c.on_connect = lambda c, u, f, rc, p: c.subscribe([(f"dt/{s}/#", 1) for s in sites])
        self.c.on_subscribe = lambda *a: self.subscribed.set()
        self.c.on_message = self._on_message
        self.c.connect(host, port)
        self.c.loop_start()
        assert self.subscribed.wait(10), "subscriber never got SUBACK"

    def _on_message(self, client: object, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == self.marker_topic:
            self.marker.set()
            return
        try:
            n = len(decode_reading(msg.payload, msg.topic, datetime.now(timezone.utc)))
        except ValueError:
            n, bad = 0, 1
        else:
            bad = 0
        with self.lock:
            self.messages += 1
            self.readings += n
            self.invalid += bad

    def wait_for(self, messages: int, timeout_s: float = 15.0) -> None:
        """Until `messages` arrived, then until a marker published after them arrived: the broker queues this
        subscriber's messages in the order it takes them in, so anything extra (a duplicate) comes before it."""
        end = time.monotonic() + timeout_s
        while self.messages < messages and time.monotonic() < end:
            time.sleep(0.05)
        pub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"sim-marker-{uuid.uuid4().hex[:8]}")
        pub.connect(self.host, self.port)
        pub.loop_start()
        try:
            pub.publish(self.marker_topic, b"marker", qos=1).wait_for_publish(10)
        finally:
            pub.loop_stop()
            pub.disconnect()
        assert self.marker.wait(max(end - time.monotonic(), 5.0)), "the marker after the fleet never arrived"

    def close(self) -> None:
        self.c.disconnect()
        self.c.loop_stop()


def _network(tmp_path: Path) -> tuple[Path, list[str], str]:
    prefix = f"t{uuid.uuid4().hex[:10]}"
    net = tiny_network(prefix)
    path = tmp_path / "net.json"
    path.write_text(json.dumps(net))
    return path, [n["id"] for n in net["nodes"]] + [l["id"] for l in net["lanes"]], prefix


def test_qos1_subscriber_receives_exact_count(stack_endpoints, tmp_path: Path) -> None:
    url = urlparse(stack_endpoints.mqtt_url)
    net, sites, prefix = _network(tmp_path)
    sub = Counter(url.hostname, url.port, sites)
    try:
        report = run_fleet(FleetConfig(network_path=net, scale=4, rate=400, duration_s=3, qos=1, processes=2,
                                       host=url.hostname, port=url.port, gateway_share=0.5, batch_size=5,
                                       client_prefix=f"{prefix}-", progress=False))
        sub.wait_for(report.messages_sent)
    finally:
        sub.close()
    assert report.errors == 0 and report.unacked_at_end == 0
    assert report.messages_replayed == 0  # nothing is published twice while the broker stays up
    assert report.messages_acked == report.messages_sent
    assert 0.9 * 400 * 3 <= report.readings_sent <= 400 * 3
    assert (sub.messages, sub.readings, sub.invalid) == (report.messages_sent, report.readings_sent, 0)


def test_awsiot_mtls_per_gateway_certificates(stack_endpoints, tmp_path: Path) -> None:
    url = urlparse(stack_endpoints.mqtts_url)
    ca = stack_endpoints.tls.ca_cert
    cert_dir = tmp_path / "certs"  # the stack's CA, but this test's device keys stay in tmp
    cert_dir.mkdir()
    for name in ("ca.crt", "ca.key"):
        shutil.copy(ca.parent / name, cert_dir / name)
    net, sites, prefix = _network(tmp_path)
    plain = urlparse(stack_endpoints.mqtt_url)
    sub = Counter(plain.hostname, plain.port, sites)
    try:
        report = run_fleet(FleetConfig(network_path=net, scale=1, rate=100, duration_s=2, qos=1, processes=1,
                                       transport="awsiot", host=url.hostname, port=url.port, ca_cert=ca,
                                       cert_dir=cert_dir, gateway_share=0.5, client_prefix=f"{prefix}-",
                                       progress=False))
        sub.wait_for(report.messages_sent)
    finally:
        sub.close()
    assert report.errors == 0 and report.messages_acked == report.messages_sent > 0
    assert (sub.messages, sub.readings) == (report.messages_sent, report.readings_sent)
    issued = {p.stem for p in cert_dir.glob("*.crt")} - {"ca"}
    assert issued and all(i.startswith(prefix) for i in issued)  # one certificate per gateway/device


def test_iot_core_mode_connects_each_identity_as_its_thing_name(stack_endpoints, tmp_path: Path) -> None:
    # `simulate fleet --iot-endpoint` against the stack's mTLS listener standing in for IoT Core: the identities'
    # certificates come from --cert-dir (here issued by the stack's CA, in AWS by `simulate register`), and the
    # device policy of deploy/aws/omnitrack.yaml needs client id == thing name, one connection each.
    import os
    import subprocess
    import sys

    from simulators.fleet.fleet import build_fleet, load_network
    from simulators.fleet.registry import identities

    url, plain = urlparse(stack_endpoints.mqtts_url), urlparse(stack_endpoints.mqtt_url)
    ca = stack_endpoints.tls.ca_cert
    cert_dir = tmp_path / "certs"
    cert_dir.mkdir()
    for name in ("ca.crt", "ca.key"):
        shutil.copy(ca.parent / name, cert_dir / name)
    net, sites, prefix = _network(tmp_path)
    names = {i.name for i in identities(build_fleet(load_network(net), seed=7))}
    log = stack_endpoints.processes["mosquitto"].log
    log_start = log.stat().st_size
    sub = Counter(plain.hostname, plain.port, sites)
    try:
        env = {**os.environ, "OMNITRACK_NETWORK_FILE": str(net)}
        out = subprocess.run([sys.executable, "-m", "omnitrack.cli", "simulate", "fleet", "--transport", "awsiot",
                              "--iot-endpoint", f"{url.hostname}:{url.port}", "--ca", str(ca), "--cert-dir",
                              str(cert_dir), "--rate", "100", "--duration", "2", "--processes", "1", "--seed", "7",
                              "--scenario", "none", "--json"], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-3000:]
        report = json.loads(out.stdout.strip().splitlines()[-1])
        sub.wait_for(report["messages_sent"])
    finally:
        sub.close()
    assert report["errors"] == 0 and report["messages_acked"] == report["messages_sent"] > 0
    assert (sub.messages, sub.readings) == (report["messages_sent"], report["readings_sent"])
    seen = log.read_text(errors="replace")[log_start:]
    connected = {m.split(" as ", 1)[1].split(" ", 1)[0] for m in seen.splitlines() if "New client connected" in m}
    assert names <= connected, sorted(names - connected)  # every identity, under its bare thing name
    assert {p.stem for p in cert_dir.glob("*.crt")} - {"ca"} == names
