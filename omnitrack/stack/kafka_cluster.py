"""Apache Kafka 4.x as a cluster of N KRaft nodes on loopback: `omnitrack stack up --brokers 3`.

Why this topology: N combined broker+controller nodes and a static N-voter controller quorum
(`controller.quorum.voters`), the same shape as the single node, only N times. Three voters keep a quorum
when any one node dies, so killing a broker, even the active controller, leaves a cluster that elects new
leaders and keeps taking acks=all writes; separate controller processes would double the JVMs on a laptop.
Static voters rather than a dynamic quorum (`--initial-controllers`): every node is formatted with the same
cluster id and nothing else, and a node whose data directory is wiped rejoins on its own.

Layout, all under the stack folder (the single broker's `kafka/`, `run/kafka.pid` are never touched):
`kafka-cluster/{cluster.id,brokers}`, `kafka-cluster/node-N/{server.properties,data/}`, `run/kafka-N.{pid,log}`.
Ports: node n listens on `kafka_port + 10·(n-1)`, its controller on `kafka_controller_port + 10·(n-1)`
(`Settings.kafka_nodes`), so node 1 keeps the single broker's ports.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from omnitrack.replication import min_insync_for, replication_for
from omnitrack.settings import Settings
from omnitrack.stack import kafka
from omnitrack.stack.errors import StackError
from omnitrack.stack.process import ManagedProcess
from omnitrack.stack.readiness import port_open, wait_until

FORMAT_DEADLINE_S = 120.0
"""Formatting is one short JVM run per node (~3 s); a tool stuck on a lock must not hang `stack up`."""

PROBE_TIMEOUT_S = 5.0
"""One metadata request to one node: a node that accepts but never answers must not stall the deadline loop."""


def cluster_dir(settings: Settings) -> Path:
    return settings.resolved_stack_dir / "kafka-cluster"


def node_dir(settings: Settings, node: int) -> Path:
    return cluster_dir(settings) / f"node-{node}"


def node_process(settings: Settings, node: int) -> ManagedProcess:
    """Node `node`'s process; its marker is its own config path, so one node is never taken for another."""
    return ManagedProcess(f"kafka-{node}", settings.resolved_stack_dir / "run",
                          marker=str(node_dir(settings, node) / "server.properties"))


def recorded_nodes(settings: Settings) -> list[int]:
    """Ids of the nodes a cluster started under this stack folder left pid files for (running or crashed)."""
    ids = []
    for pidfile in (settings.resolved_stack_dir / "run").glob("kafka-*.pid"):
        suffix = pidfile.stem.removeprefix("kafka-")
        if suffix.isdigit():
            ids.append(int(suffix))
    return sorted(ids)


def _cluster_id(settings: Settings) -> str:
    """The cluster's id, drawn once: every node must be formatted with the same one or it refuses to join."""
    path = cluster_dir(settings) / "cluster.id"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(kafka._cluster_id())
    return path.read_text().strip()


def _check_size(settings: Settings) -> None:
    """Refuse to reuse a cluster's data with another number of nodes: its static voter set is part of what was
    formatted, and nodes with different voter lists never agree on a quorum (they wait until the deadline)."""
    path = cluster_dir(settings) / "brokers"
    if path.exists() and int(path.read_text()) != settings.kafka_brokers:
        raise StackError("kafka", f"{cluster_dir(settings)} holds a {path.read_text().strip()}-node cluster; "
                                  f"use that size, or remove the folder (its records go with it) to start over "
                                  f"with {settings.kafka_brokers}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(settings.kafka_brokers))


def _config(settings: Settings, node: int, port: int, controller_port: int) -> Path:
    """Node `node`'s properties: the shared file in deploy/ plus its listeners, the quorum and the replication."""
    directory = node_dir(settings, node)
    directory.mkdir(parents=True, exist_ok=True)
    voters = ",".join(f"{n}@127.0.0.1:{c}" for n, _, c in settings.kafka_nodes)
    rf = replication_for(settings.kafka_brokers)
    isr = min_insync_for(rf)
    local = (
        f"\n# --- added by `omnitrack stack up --brokers {settings.kafka_brokers}` for node {node} ---\n"
        f"node.id={node}\n"
        f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}\n"
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}\n"
        f"controller.quorum.voters={voters}\n"
        f"log.dirs={directory / 'data'}\n"
        "# Internal and auto-created topics as durable as the engine's (omnitrack/replication.py): one replica\n"
        "# would lose committed offsets and producer state with its broker.\n"
        f"default.replication.factor={rf}\n"
        f"min.insync.replicas={isr}\n"
        f"offsets.topic.replication.factor={rf}\n"
        f"transaction.state.log.replication.factor={rf}\n"
        f"transaction.state.log.min.isr={isr}\n"
        f"share.coordinator.state.topic.replication.factor={rf}\n"
        f"share.coordinator.state.topic.min.isr={isr}\n"
    )
    path = directory / "server.properties"
    path.write_text((kafka.deploy_dir() / "server.properties").read_text() + local)
    return path


def _format(settings: Settings, java: list[str], configs: dict[int, Path]) -> None:
    """Format the nodes not yet formatted, side by side (a JVM each); meta.properties marks one done."""
    cluster_id = _cluster_id(settings)
    running: list[tuple[int, subprocess.Popen[bytes]]] = []
    for node, config in configs.items():
        if (node_dir(settings, node) / "data" / "meta.properties").exists():
            continue
        log = node_process(settings, node).log
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            running.append((node, subprocess.Popen(  # noqa: S603 - argv is built by the project
                [*java, kafka.STORAGE_TOOL, "format", "-t", cluster_id, "-c", str(config), "--ignore-formatted"],
                stdout=out, stderr=subprocess.STDOUT)))
    for node, proc in running:
        try:
            code = proc.wait(timeout=FORMAT_DEADLINE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = -1
        if code != 0:
            raise StackError(f"kafka-{node}", "formatting the KRaft storage failed", node_process(settings, node).log)


def node_ready(node: int, port: int, brokers: int) -> bool:
    """True when node `node` answers a metadata request on its own port and lists `brokers` brokers, itself
    among them: it has joined the quorum, caught up with the metadata and been unfenced."""
    return kafka.metadata_ok(f"127.0.0.1:{port}", PROBE_TIMEOUT_S, lambda ids: node in ids and len(ids) >= brokers)


def check_topology(settings: Settings) -> None:
    """Refuse to start one topology over the other: they share node 1's ports, and the second would only
    fail to bind after a cold JVM start, with a less helpful message."""
    if not kafka.managed(settings):
        return
    if settings.kafka_brokers > 1 and kafka.process(settings).running():
        raise StackError("kafka", "a one-broker stack runs in this stack folder; `omnitrack stack down` it first, "
                                  f"then `omnitrack stack up --brokers {settings.kafka_brokers}`")
    recorded = recorded_nodes(settings)  # a node that died keeps its pid file: it counts in the cluster's size
    if any(node_process(settings, n).running() for n in recorded) and max(recorded) != settings.kafka_brokers:
        raise StackError("kafka", f"a {max(recorded)}-node cluster runs in this stack folder; use "
                                  f"`--brokers {max(recorded)}` (or OMNITRACK_KAFKA_BROKERS), or "
                                  "`omnitrack stack down` it first")


def up(settings: Settings) -> None:
    """Start the nodes that are not running (all of them, or one that died) and wait until every one is ready."""
    check_topology(settings)
    _check_size(settings)
    to_start = [(n, p, c) for n, p, c in settings.kafka_nodes if not node_process(settings, n).running()]
    for node, port, controller_port in to_start:
        for taken in (port, controller_port):
            if port_open("127.0.0.1", taken):
                raise StackError(f"kafka-{node}", f"port {taken} is taken by another process; stop it or set "
                                                  "OMNITRACK_KAFKA_PORT / OMNITRACK_KAFKA_CONTROLLER_PORT")
    if to_start:
        java = kafka._java(settings, kafka.libs_dir(settings))
        configs = {n: _config(settings, n, p, c) for n, p, c in to_start}
        _format(settings, java, configs)
        for node, config in configs.items():
            node_process(settings, node).start([*java, kafka.MAIN_CLASS, str(config)])
    for node, port, _ in settings.kafka_nodes:
        proc = node_process(settings, node)
        wait_until(lambda n=node, p=port: node_ready(n, p, settings.kafka_brokers), component=f"kafka-{node}",
                   what=f"node {node} on 127.0.0.1:{port} is in a cluster of {settings.kafka_brokers} brokers",
                   deadline_s=kafka.READY_DEADLINE_S, log=proc.log, abort=proc.exited_early)


def down(settings: Settings) -> list[str]:
    """Stop every node of this stack folder's cluster, side by side; return the names of those that ran.

    Side by side: stopped one after the other, the last node has lost its quorum and its controlled shutdown
    waits for a controller that is gone, until SIGKILL."""
    if not kafka.managed(settings):
        return []
    configured = {n for n, _, _ in settings.kafka_nodes} if settings.kafka_brokers > 1 else set()
    nodes = sorted(set(recorded_nodes(settings)) | configured)
    procs = [node_process(settings, n) for n in nodes]
    if not procs:
        return []
    with ThreadPoolExecutor(max_workers=len(procs)) as pool:
        stopped = list(pool.map(lambda p: p.stop(), procs))
    return [p.name for p, was_running in zip(procs, stopped) if was_running]
