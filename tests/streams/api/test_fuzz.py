"""Schemathesis over /openapi.json: every route of the real `omnitrack api` process, called with generated input
(valid and invalid: positive and negative generation) under an admin token, never answers 5xx, and every
answer fits the schema the document gives for its status.

The API runs as its own process on loopback against the session's Kafka, with data in its read model (an
alert, a device row with an open window, a closed window, a scenario result), so the routes that look
things up find something for some inputs. Rate limits are off for it: the fuzzer is one subject making
hundreds of calls, and a 429 would hide what the route itself answers (test_http_features.py tests limits).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hypothesis
import hypothesis.strategies as st
import orjson
import pytest
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import response_schema_conformance

from omnitrack.stack.endpoints import Endpoints
from streams.admin import delete_topics, ensure_topics
from streams.api.catalog import API_PREFIX, OPERATIONS, Operation
from streams.produce import produce
from streams.topics import Topics
from tests.streams.api.helpers import alert_event, alert_records, bearer
from tests.streams.api.process import ApiProcess, http, run_api
from tests.streams.conftest import wait_for

pytestmark = pytest.mark.integration

ADMIN = bearer("admin", "fuzzer", ttl_s=3600)
MAX_EXAMPLES = 100
"""Examples per route and mode (hypothesis' default): about a minute for the whole API on two cores."""


@pytest.fixture(scope="module")
def fuzzed_api(stack_endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiProcess]:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    tmp: Path = tmp_path_factory.mktemp("fuzz")
    bootstrap = stack_endpoints.kafka_bootstrap
    topics = Topics(prefix)

    async def seed() -> None:
        await ensure_topics(bootstrap, topics)
        await produce(bootstrap, topics.alerts, alert_records([alert_event("fz-1", 1, site="WHS-1")]))
        start = (int(time.time()) // 60) * 60
        row = {"status": "online", "readings_applied": 3, "last_values": {"temperature": [4.0, "x"]},
               "window": {"start_s": start, "metrics": {"temperature": {"count": 1, "min": 4.0, "max": 4.0,
                                                                        "sum": 4.0, "mean": 4.0}}}}
        await produce(bootstrap, topics.changelog("devices"), [(b"D-FZ", orjson.dumps(row))])
        await produce(bootstrap, topics.changelog("nodes"), [(b"N-FZ", orjson.dumps(
            {"level": "ok", "stalled": {"T-FZ": "LN-FZ"}}))])  # a stalled lane for GET /twin/lanes
        await produce(bootstrap, topics.changelog("aggregates"), [(
            orjson.dumps(["D-FZ", [start - 60, start - 0.1]]),
            orjson.dumps({"temperature": {"count": 2, "min": 1.0, "max": 3.0, "sum": 4.0, "mean": 2.0}}))])
        await produce(bootstrap, topics.scenario_results,
                      [(b"fz-req", orjson.dumps({"request_id": "fz-req", "status": "ok"}))])

    asyncio.run(seed())
    try:
        with run_api(stack_endpoints, prefix, tmp, {"OMNITRACK_API_RATE_LIMIT_PER_S": "0"}) as api:
            wait_for(lambda: http("GET", f"{api.url}/api/v1/twin/device/D-FZ/history", headers=ADMIN)[0] == 200
                     and http("GET", f"{api.url}/api/v1/alerts/fz-1", headers=ADMIN)[0] == 200, 30, "the seed")
            yield api
    finally:
        with contextlib.suppress(Exception):  # cleanup is best effort (as tests/conftest.py's): the verdict stands
            asyncio.run(delete_topics(bootstrap, prefix))


@pytest.fixture(scope="module")
def api_schema(fuzzed_api: ApiProcess) -> schemathesis.BaseSchema:
    """The document as the API serves it (viewer or above may read it)."""
    return schemathesis.openapi.from_url(f"{fuzzed_api.url}/api/v1/openapi.json", headers=ADMIN, timeout=10)


def _call(case: schemathesis.Case, url: str) -> None:
    if isinstance(case.query, dict) and isinstance(case.query.get("wait"), (int, float)):
        case.query["wait"] = min(case.query["wait"], 0.2)  # valid up to 30 s: each example would hold that long
    if case.operation.path.endswith("/stream"):
        # an answer that never ends: its status and headers are the answer; then the connection is closed
        kwargs = case.as_transport_kwargs(base_url=url, headers=ADMIN)
        with requests.request(**kwargs, stream=True, timeout=10) as response:
            assert response.status_code < 500, (response.status_code, kwargs)
        return
    # no 5xx, and every answer fits the schema the document gives for its status (schemas.py is the truth)
    case.call_and_validate(base_url=url, headers=ADMIN, checks=[not_a_server_error, response_schema_conformance],
                           timeout=15)


KNOWN = {"alert_id": "fz-1", "request_id": "fz-req", "device_id": "D-FZ", "node_id": "N-FZ"}
"""Ids the seed wrote: generated ids almost never exist, so half the cases use these and reach the 200s."""


def _cases(operation: Any, route: Operation, mode: GenerationMode) -> st.SearchStrategy[schemathesis.Case]:
    generated = operation.as_strategy(generation_mode=mode)
    if not route.path_params:
        return generated
    return st.one_of(generated, operation.as_strategy(
        generation_mode=mode, path_parameters={name: KNOWN[name] for name in route.path_params}))


CASES = [pytest.param(op, mode, id=f"{op.method} {op.path} {mode}") for op in OPERATIONS
         for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
         if mode is GenerationMode.POSITIVE or op.query or op.body or op.path_params]
"""Every route with data that fits the document, and every route that takes input with data that does not."""


@pytest.mark.parametrize(("route", "mode"), CASES)
def test_no_route_answers_5xx(route: Operation, mode: GenerationMode, api_schema: schemathesis.BaseSchema,
                              fuzzed_api: ApiProcess) -> None:
    """Schemathesis' cases for one route and mode (data that fits the document, or deliberately does not),
    each sent to the running API; `not_a_server_error` fails on any 5xx. (Hypothesis drives them directly:
    schemathesis' own pytest plugin needs a pytest older than this project's.)"""
    operation = api_schema[API_PREFIX + route.path][route.method]

    @hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                         suppress_health_check=list(hypothesis.HealthCheck), phases=[
                             hypothesis.Phase.explicit, hypothesis.Phase.generate, hypothesis.Phase.shrink])
    @hypothesis.given(case=_cases(operation, route, mode))
    def each(case: schemathesis.Case) -> None:
        _call(case, fuzzed_api.url)
        sent.append(case)

    sent: list[schemathesis.Case] = []
    each()
    assert sent, "no case was sent"


def test_the_document_lists_every_route(api_schema: schemathesis.BaseSchema) -> None:
    """Every registered route is in the document (so the test above reached all of them), and nothing else."""
    listed = {(method.upper(), path) for path, item in api_schema.raw_schema["paths"].items() for method in item}
    assert listed == {(op.method, API_PREFIX + op.path) for op in OPERATIONS}
