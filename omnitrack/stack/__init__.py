"""The local stack: Kafka (KRaft), Mosquitto and moto's SNS on loopback, started and stopped by the project.

`up` is idempotent (a running component is only checked for readiness),
`down` stops every process the stack started and waits until its ports close.
"""

from __future__ import annotations

from omnitrack.settings import Settings
from omnitrack.stack import kafka, kafka_cluster, mosquitto, moto
from omnitrack.stack.endpoints import Endpoints, ProcessStatus, TlsFiles
from omnitrack.stack.errors import StackError
from omnitrack.stack.readiness import port_open, wait_until

__all__ = ["Endpoints", "StackError", "down", "endpoints", "up", "ports"]

PORTS_CLOSED_DEADLINE_S = 15.0
"""A stopped server's listening sockets close within a second or two; past this one was left behind."""


def ports(settings: Settings) -> list[int]:
    """The TCP ports the stack's own processes listen on."""
    own = [settings.mqtt_port, settings.mqtts_port]
    if kafka.managed(settings):
        own += [port for _, client, controller in settings.kafka_nodes for port in (client, controller)]
    if moto.managed(settings):
        own.append(settings.sns_port)
    return own


def up(settings: Settings) -> Endpoints:
    """Start (or check) every component and return the endpoints."""
    if kafka.managed(settings) and settings.kafka_brokers > 1:
        kafka_cluster.up(settings)
    else:
        kafka_cluster.check_topology(settings)
        kafka.up(settings)
    mosquitto.up(settings)
    if moto.managed(settings):
        moto.up(settings)
    return endpoints(settings)


def down(settings: Settings) -> list[str]:
    """Stop every component the stack started; return the names of those that were running."""
    # moto is stopped whatever the settings say now: one started earlier must not outlive `down`.
    parts = (("moto", moto.down), ("mosquitto", mosquitto.down), ("kafka", kafka.down))
    stopped = [name for name, stop in parts if stop(settings)]
    stopped += kafka_cluster.down(settings)  # whatever the settings say now, like moto
    for port in ports(settings):
        wait_until(lambda p=port: not port_open("127.0.0.1", p), component="stack",
                   what=f"port {port} closed after stop", deadline_s=PORTS_CLOSED_DEADLINE_S)
    return stopped


def endpoints(settings: Settings) -> Endpoints:
    """The stack's endpoints and process states, without starting anything."""
    certs = mosquitto.certs_dir(settings)
    m, s = mosquitto.process(settings), moto.process(settings)
    return Endpoints(
        kafka_bootstrap=settings.bootstrap,
        mqtt_url=f"mqtt://{settings.mqtt_host}:{settings.mqtt_port}",
        mqtts_url=f"mqtts://{settings.mqtt_host}:{settings.mqtts_port}",
        tls=TlsFiles(
            ca_cert=certs / "ca.crt",
            device_cert=certs / "device-0001.crt",
            device_key=certs / "device-0001.key",
            bridge_cert=certs / "omnitrack-bridge.crt",
            bridge_key=certs / "omnitrack-bridge.key",
        ),
        api_url=f"http://127.0.0.1:{settings.api_port}",
        metrics_url=f"http://127.0.0.1:{settings.metrics_port}/metrics",
        sns_url=settings.sns_endpoint,
        stack_dir=settings.resolved_stack_dir,
        processes={
            **_kafka_processes(settings),
            "mosquitto": ProcessStatus(running=m.running(), pid=m.pid(), log=m.log),
            "moto": ProcessStatus(running=s.running() if moto.managed(settings) else True, pid=s.pid(),
                                  log=s.log if moto.managed(settings) else None, managed=moto.managed(settings)),
        },
    )


def _kafka_processes(settings: Settings) -> dict[str, ProcessStatus]:
    """`kafka` for the single broker (or an external cluster), `kafka-1` … `kafka-N` for a local cluster."""
    if not kafka.managed(settings):
        k = kafka.process(settings)
        return {"kafka": ProcessStatus(running=True, pid=k.pid(), log=None, managed=False)}
    if settings.kafka_brokers == 1:
        k = kafka.process(settings)
        return {"kafka": ProcessStatus(running=k.running(), pid=k.pid(), log=k.log)}
    nodes = {}
    for node, _, _ in settings.kafka_nodes:
        p = kafka_cluster.node_process(settings, node)
        nodes[p.name] = ProcessStatus(running=p.running(), pid=p.pid(), log=p.log)
    return nodes
