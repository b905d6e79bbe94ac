"""`omnitrack worker`: one Faust worker process keeping the twin, until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio

from prometheus_client import start_http_server

from omnitrack.settings import Settings
from streams.admin import ensure_topics
from streams.app import create_app
from streams.network_file import load_network
from streams.topics import topics_for
from streams.twin_agents import register_twin


def main(settings: Settings, loglevel: str = "warning") -> int:
    from faust.worker import Worker

    network = load_network(settings.network_file)
    asyncio.run(ensure_topics(settings.bootstrap, topics_for(settings)))
    app = create_app(settings)
    register_twin(app, settings, network)

    @app.on_partitions_assigned.connect
    async def _announce(_sender: object, assigned: set, **_kwargs: object) -> None:
        # tests and operators wait on this line: the worker consumes from here on
        print(f"worker assigned {len(assigned)} partitions", flush=True)

    start_http_server(settings.metrics_port_for("worker"), addr=settings.metrics_host)
    worker = Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
    return 0
