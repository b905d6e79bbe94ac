"""`omnitrack api` across the process boundary: the real process on loopback, the real broker, HTTP in,
Kafka out (and back), metrics on its own port, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from engine.models import ScenarioResult
from omnitrack.stack.endpoints import Endpoints
from streams.api.main import SHUTDOWN_TIMEOUT_S
from streams.produce import produce
from tests.streams.api.helpers import alert_event, alert_records, bearer, consume_until
from tests.streams.api.process import ApiProcess, http, run_api
from tests.streams.conftest import wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def api_process(stack_endpoints: Endpoints, topic_prefix: str, tmp_path: Path) -> Iterator[ApiProcess]:
    with run_api(stack_endpoints, topic_prefix, tmp_path) as handle:
        yield handle


def test_the_api_process_end_to_end(api_process: ApiProcess) -> None:
    api, topics = api_process, api_process.topics
    viewer, operator = bearer("viewer", "watcher"), bearer("operator", "ops@site")

    # an alert on the `alerts` topic shows in the API
    event = alert_event("e2e-1", 3, site="WHS-9")
    asyncio.run(produce(api.bootstrap, topics.alerts, alert_records([event])))
    wait_for(lambda: http("GET", f"{api.url}/alerts/e2e-1", headers=viewer)[0] == 200, 30, "the alert in the API")
    status, body, _ = http("GET", f"{api.url}/alerts/e2e-1", headers=viewer)
    assert body["alert"]["version"] == 3 and body["alert"]["site_id"] == "WHS-9"
    assert body["transition"]["kind"] == "created"

    # an operator's ack becomes an AlertCommand on alerts.commands, in the token's name, keyed by site
    status, sent, _ = http("POST", f"{api.url}/alerts/e2e-1/commands", {"action": "ack"}, operator)
    assert status == 202, sent
    records = asyncio.run(consume_until(api.bootstrap, topics.alert_commands, lambda r: len(r) >= 1))
    command = orjson.loads(records[0].value)
    assert records[0].key == b"WHS-9"
    assert (command["action"], command["alert_id"], command["actor"]) == ("ack", "e2e-1", "ops@site")

    # roles and tokens
    assert http("POST", f"{api.url}/alerts/e2e-1/commands", {"action": "ack"}, viewer)[0] == 403
    status, _, headers = http("GET", f"{api.url}/alerts")
    assert status == 401 and headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    expired = bearer("admin", ttl_s=60, now=time.time() - 3600)
    assert http("GET", f"{api.url}/alerts", headers=expired)[0] == 401

    # scenarios: a bad body names the field; a good one reaches scenarios.requests
    status, body, _ = http("POST", f"{api.url}/scenarios", {"nodes": ["WHS-9"], "duration_days": -1}, operator)
    assert status == 400 and [d["loc"] for d in body["detail"]] == [["duration_days"]]
    status, body, headers = http("POST", f"{api.url}/scenarios",
                                 {"request_id": "e2e-req", "nodes": ["WHS-9"], "duration_days": 4}, operator)
    assert status == 202 and headers["Location"] == "/scenarios/e2e-req"
    records = asyncio.run(consume_until(api.bootstrap, topics.scenario_requests,
                                        lambda r: any(x.key == b"e2e-req" for x in r)))
    assert orjson.loads(records[-1].value)["duration_days"] == 4

    # a result on scenarios.results, keyed by the request id, is served
    result = ScenarioResult(request_id="e2e-req", status="ok", candidates_evaluated=5, negotiation_method="maximin")
    asyncio.run(produce(api.bootstrap, topics.scenario_results, [(b"e2e-req", result.model_dump_json().encode())]))
    wait_for(lambda: http("GET", f"{api.url}/scenarios/e2e-req", headers=viewer)[0] == 200, 30, "the result")
    assert ScenarioResult.model_validate(http("GET", f"{api.url}/scenarios/e2e-req", headers=viewer)[1]) == result

    # its own metrics port: requests by route template and status, auth failures by reason
    with urllib.request.urlopen(api.metrics_url, timeout=5) as response:
        metrics = response.read().decode()
    counted = [line for line in metrics.splitlines() if line.startswith("omnitrack_api_requests_total{")]
    assert any('status="401"' in line and 'route="/alerts"' in line for line in counted), counted
    assert any('status="202"' in line and 'route="/alerts/{alert_id}/commands"' in line for line in counted), counted
    assert 'omnitrack_api_auth_failures_total{reason="expired"} 1.0' in metrics
    assert 'omnitrack_api_view_records_total{topic="alerts"} 1.0' in metrics

    # SIGTERM stops it cleanly, and at once: an open /alerts/stream is ended, not waited for (10 s shutdown timeout)
    stream = urllib.request.urlopen(urllib.request.Request(f"{api.url}/alerts/stream", headers=viewer), timeout=30)
    assert stream.readline() == b"retry: 3000\n"
    t0 = time.monotonic()
    os.killpg(api.proc.pid, signal.SIGTERM)
    assert api.proc.wait(20) == 0
    assert stream.read() == b"\n"  # the end of the retry frame, then EOF: the server closed the stream
    assert time.monotonic() - t0 < SHUTDOWN_TIMEOUT_S, "the open stream held the shutdown"
    assert "api stopped" in api.log.read_text()
