"""`omnitrack run`'s process list and status line with several twin workers (pure: no stack)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from omnitrack.progress import summary
from omnitrack.services import MAX_WORKERS, engine_processes
from omnitrack.settings import Settings
from tests.streams.conftest import metrics_base_port


def test_each_worker_gets_its_own_id_and_the_rest_is_unchanged(tmp_path) -> None:
    specs = engine_processes(Settings(home=tmp_path), simulate=False, workers=3)
    assert [s.name for s in specs] == ["bridge", "worker-0", "worker-1", "worker-2", "decider", "notifier", "api"]
    assert [s.env["OMNITRACK_WORKER_ID"] for s in specs if s.name.startswith("worker")] == ["0", "1", "2"]
    with pytest.raises(ValueError):
        engine_processes(Settings(home=tmp_path), workers=MAX_WORKERS + 1)


def _serve(port: int, body: str) -> HTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *_args) -> None:  # noqa: ANN002
            pass

    server = HTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_status_line_sums_the_twin_workers(tmp_path) -> None:
    base = metrics_base_port()
    settings = Settings(home=tmp_path, metrics_port=base)
    servers = [_serve(base + 1, 'omnitrack_twin_readings_total{outcome="new"} 1200.0\n'),
               _serve(base + 2, 'omnitrack_twin_readings_total{outcome="new"} 800.0\n'
                                'omnitrack_twin_readings_total{outcome="duplicate"} 5.0\n'),
               _serve(base + 50, 'omnitrack_consumer_lag_records{group="omnitrack-twin",topic="telemetry"} 1500.0\n'
                                 'omnitrack_consumer_lag_records{group="omnitrack-notify",topic="alerts"} 7.0\n')]
    try:
        assert "twin applied 2,005" in summary(settings, workers=2)
        assert summary(settings).endswith("| lag 1,507")
        assert "twin applied 1,200" in summary(settings, workers=1)
        assert "bridged -" in summary(settings, workers=2)  # no bridge listening: shown as unknown
    finally:
        for server in servers:
            server.shutdown()


def test_the_single_local_bridge_subscribes_plainly_unless_a_group_is_configured(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("OMNITRACK_BRIDGE_SHARE_GROUP", raising=False)
    bridge = engine_processes(Settings(home=tmp_path), simulate=False)[0]
    assert bridge.name == "bridge" and bridge.env == {"OMNITRACK_BRIDGE_SHARE_GROUP": ""}
    monkeypatch.setenv("OMNITRACK_BRIDGE_SHARE_GROUP", "omnitrack")  # configured: kept, even if it is the default
    assert engine_processes(Settings(home=tmp_path), simulate=False)[0].env == {}
    monkeypatch.delenv("OMNITRACK_BRIDGE_SHARE_GROUP")
    assert engine_processes(Settings(home=tmp_path, bridge_transport="awsiot"), simulate=False)[0].env == {}
