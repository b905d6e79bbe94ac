"""The real `omnitrack api` process on loopback for a test, and a plain HTTP client for it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from omnitrack.ports import free_port_block
from omnitrack.stack.endpoints import Endpoints
from omnitrack.supervisor import stop_group
from streams.topics import Topics
from tests.streams.api.helpers import SECRET
from tests.streams.conftest import wait_for


@dataclass
class ApiProcess:
    proc: subprocess.Popen
    url: str
    metrics_url: str
    topics: Topics
    bootstrap: str
    log: Path


def http(method: str, url: str, body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any, dict]:
    """(status, decoded JSON or text, headers) of one request; HTTP errors are answers, not exceptions."""
    data = orjson.dumps(body) if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={
        **({"Content-Type": "application/json"} if data is not None else {}), **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw, got = response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as exc:
        status, raw, got = exc.code, exc.read(), dict(exc.headers)
    try:
        return status, orjson.loads(raw), got
    except orjson.JSONDecodeError:
        return status, raw.decode(errors="replace"), got


def _answers(url: str) -> bool:
    try:
        return http("GET", url)[0] == 200
    except OSError:
        return False


@contextlib.contextmanager
def run_api(stack_endpoints: Endpoints, topic_prefix: str, tmp_path: Path,
            extra_env: dict[str, str] | None = None) -> Iterator[ApiProcess]:
    """`omnitrack api` with this prefix and the tests' secret, once /readyz answers 200; stopped after."""
    port = free_port_block((0, 1))  # below the ephemeral range (omnitrack/ports.py): API and its metrics
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMNITRACK_")}
    env.update(stack_endpoints.process_env())
    env.update({
        "OMNITRACK_TOPIC_PREFIX": topic_prefix, "OMNITRACK_HOME": str(tmp_path / "home"),
        "OMNITRACK_API_PORT": str(port),
        "OMNITRACK_API_METRICS_PORT": str(port + 1), "OMNITRACK_API_JWT_SECRET": SECRET,
        **(extra_env or {}),
    })
    log = tmp_path / "api.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "omnitrack.cli", "api", "--loglevel", "info"], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    handle = ApiProcess(proc, f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}/metrics",
                        Topics(topic_prefix), stack_endpoints.kafka_bootstrap, log)
    try:
        wait_for(lambda: proc.poll() is not None or _answers(handle.url + "/readyz"), 60, "the API's /readyz")
        assert proc.poll() is None, f"the API exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
        yield handle
    finally:
        stop_group(proc)
        print(f"----- api.log (tail) -----\n{log.read_text(errors='replace')[-4000:]}")
