"""`omnitrack worker`: one Faust worker process keeping the twin, until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import gc
import re

from prometheus_client import start_http_server

from omnitrack.settings import Settings
from streams.admin import ensure_topics
from streams.app import create_app, make_worker
from streams.gc_metrics import observe_gc_pauses
from streams.network_file import load_network
from streams.topics import topics_for
from streams.twin_agents import register_twin


ASSIGNED_LINE = re.compile(r"worker assigned (\d+) partitions")
"""What a worker prints on each assignment (all topics); tests, benches and operators wait on it."""


def assignments(log_text: str) -> list[int]:
    """The partition counts a worker's log announced, oldest first."""
    return [int(n) for n in ASSIGNED_LINE.findall(log_text)]


GC_THRESHOLDS = (10_000, 10, 10)
"""Young-generation size before a collection (CPython's default is 700). A reading allocates
~15 short-lived objects, so the default collected every ~50 readings; at 10,000 the worker
applies ~20 % more readings per CPU-second for a few MB of garbage held a little longer."""


def main(settings: Settings, loglevel: str = "warning") -> int:
    network = load_network(settings.network_file)
    replication = asyncio.run(ensure_topics(settings.bootstrap, topics_for(settings)))
    app = create_app(settings, topic_replication_factor=replication)
    register_twin(app, settings, network)

    @app.on_partitions_assigned.connect
    async def _announce(_sender: object, assigned: set, **_kwargs: object) -> None:
        # tests and operators wait on this line: the worker consumes from here on
        print(f"worker assigned {len(assigned)} partitions", flush=True)
        gc.freeze()  # what the app and the restored tables allocated: see below

    start_http_server(settings.metrics_port_for("worker"), addr=settings.metrics_host)
    worker = make_worker(app, loglevel)
    # Faust, aiokafka, pydantic's schemas and the network make a heap of long-lived
    # objects that every full collection walks again: frozen, they are skipped, and a
    # worker applies ~25 % more readings per CPU-second (bench/ingest).
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    observe_gc_pauses()
    worker.execute_from_commandline()
    return 0
