"""Apache Kafka 4.x, one node in KRaft mode, run from jars resolved by Maven.

Why Maven and not a tarball: this machine reaches Maven Central but no other
download site, and `mvn dependency:copy-dependencies` over the small pom in
`deploy/kafka/` gives the broker and every library it needs, cached once.
If KAFKA_HOME names a Kafka distribution its `libs/` is used instead; if
KAFKA_BOOTSTRAP is set the stack starts no broker at all.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

from omnitrack.settings import Settings, project_root
from omnitrack.stack.errors import StackError
from omnitrack.stack.process import ManagedProcess
from omnitrack.stack.readiness import port_open, wait_until

READY_DEADLINE_S = 90.0
"""A cold JVM on two busy cores takes ~10 s; past this something is wrong, not slow."""

MVN_DEADLINE_S = 900.0
"""A first resolution downloads ~45 MB; a hung mirror must not hang the test run forever."""

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"


def deploy_dir() -> Path:
    return project_root() / "deploy" / "kafka"


def process(settings: Settings) -> ManagedProcess:
    return ManagedProcess("kafka", settings.resolved_stack_dir / "run", marker=MAIN_CLASS)


def managed(settings: Settings) -> bool:
    """False when KAFKA_BOOTSTRAP points at a cluster the stack must not touch."""
    return settings.kafka_bootstrap is None


def libs_dir(settings: Settings) -> Path:
    """The directory of broker jars, resolving them with Maven on first use."""
    if settings.kafka_home is not None:
        libs = settings.kafka_home / "libs"
        if not any(libs.glob("kafka_2.13-*.jar")):
            raise StackError("kafka", f"KAFKA_HOME={settings.kafka_home} holds no libs/kafka_2.13-*.jar")
        return libs
    libs = settings.resolved_cache_dir / "kafka" / "libs"
    stamp = libs / ".complete"
    pom = deploy_dir() / "pom.xml"
    if stamp.exists() and stamp.read_text() == pom.read_text():
        return libs
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError("kafka", "Maven (`mvn`) is needed to resolve the broker's jars; install it (apt-get install -y maven)")
    if libs.exists():
        shutil.rmtree(libs)
    libs.mkdir(parents=True)
    log = settings.resolved_cache_dir / "kafka" / "mvn.log"
    with open(log, "wb") as out:
        result = subprocess.run(  # noqa: S603
            [mvn, "-B", "-q", "-f", str(pom), "dependency:copy-dependencies",
             f"-DoutputDirectory={libs}", "-DincludeScope=runtime"],
            stdout=out, stderr=subprocess.STDOUT, timeout=MVN_DEADLINE_S, check=False,
        )
    if result.returncode != 0:
        raise StackError("kafka", "resolving the broker's jars with mvn failed", log)
    stamp.write_text(pom.read_text())
    return libs


def _config(settings: Settings) -> Path:
    """The broker's properties: the shared file in deploy/ plus this machine's listeners and data dir."""
    kafka_dir = settings.resolved_stack_dir / "kafka"
    kafka_dir.mkdir(parents=True, exist_ok=True)
    local = (
        f"\n# --- added by `omnitrack stack up` for this machine ---\n"
        f"listeners=PLAINTEXT://127.0.0.1:{settings.kafka_port},CONTROLLER://127.0.0.1:{settings.kafka_controller_port}\n"
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{settings.kafka_port}\n"
        f"controller.quorum.voters=1@127.0.0.1:{settings.kafka_controller_port}\n"
        f"log.dirs={kafka_dir / 'data'}\n"
    )
    path = kafka_dir / "server.properties"
    path.write_text((deploy_dir() / "server.properties").read_text() + local)
    return path


def _java(settings: Settings, libs: Path) -> list[str]:
    java = shutil.which("java")
    if java is None:
        raise StackError("kafka", "Java 17+ is needed to run the broker (apt-get install -y openjdk-17-jre-headless)")
    return [
        java, f"-Xms{settings.kafka_heap}", f"-Xmx{settings.kafka_heap}", "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={deploy_dir() / 'log4j2.properties'}",
        "-cp", f"{libs}/*",
    ]


def _format_storage(settings: Settings, java: list[str], config: Path) -> None:
    """Format the KRaft log directory once; its meta.properties marks it done."""
    data = settings.resolved_stack_dir / "kafka" / "data"
    if (data / "meta.properties").exists():
        return
    cluster_id = _cluster_id()
    log = process(settings).log
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        result = subprocess.run(  # noqa: S603
            [*java, STORAGE_TOOL, "format", "-t", cluster_id, "-c", str(config), "--ignore-formatted"],
            stdout=out, stderr=subprocess.STDOUT, timeout=120, check=False,
        )
    if result.returncode != 0:
        raise StackError("kafka", "formatting the KRaft storage failed", log)


def _cluster_id() -> str:
    """A random KRaft cluster id (22 url-safe base64 characters).

    One in 64 such ids starts with '-', which the storage tool's argument
    parser takes for an option ("--cluster-id: expected one argument"); Kafka's
    own Uuid.randomUuid() redraws those too.
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


def metadata_ok(bootstrap: str, timeout_s: float = 5.0,
                accept: Callable[[set[int]], bool] = bool) -> bool:
    """True when the broker answers a metadata request (what every client does first) and `accept` takes the
    node ids it lists (default: any)."""

    host, _, port = bootstrap.split(",")[0].rpartition(":")
    if not port_open(host or "127.0.0.1", int(port)):
        return False  # nothing listens yet: skip the client, whose retries only fill the log

    async def probe() -> bool:
        from aiokafka import AIOKafkaClient

        client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
        try:
            await asyncio.wait_for(client.bootstrap(), timeout_s)
            return accept({b.nodeId for b in client.cluster.brokers()})
        finally:
            await client.close()

    try:
        return asyncio.run(probe())
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        return False


_PROBE_GROUP = "omnitrack-stack-ready"
"""The consumer group whose coordinator `coordinator_ok` asks for. Asking creates no group (only joining does)."""


def coordinator_ok(bootstrap: str, timeout_s: float = 5.0) -> bool:
    """True when the broker names a coordinator for a consumer group. WHY: on a fresh broker the first such question
    makes it create `__consumer_offsets` (50 partitions); until they have leaders every consumer's join fails, and
    each process of `make run` logged it (Faust's "Marking the coordinator dead", the API's lag reader's
    GroupCoordinatorNotAvailableError) in its first second."""

    async def probe() -> bool:
        from aiokafka.admin import AIOKafkaAdminClient

        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout_s * 1000))
        await admin.start()
        try:
            await admin.find_coordinator(_PROBE_GROUP)
            return True
        finally:
            await admin.close()

    try:
        return asyncio.run(asyncio.wait_for(probe(), timeout_s))
    except Exception:  # noqa: BLE001 - any failure (a timeout included) means "not ready"
        return False


def up(settings: Settings) -> None:
    """Start the broker unless it already runs (or an external cluster is configured); wait until it answers
    metadata requests and names group coordinators."""
    if not managed(settings):
        wait_until(lambda: metadata_ok(settings.bootstrap), component="kafka",
                   what=f"KAFKA_BOOTSTRAP={settings.bootstrap} answers metadata requests", deadline_s=30)
        wait_until(lambda: coordinator_ok(settings.bootstrap), component="kafka",
                   what=f"KAFKA_BOOTSTRAP={settings.bootstrap} names a group coordinator", deadline_s=30)
        return
    proc = process(settings)
    if not proc.running():
        for port in (settings.kafka_port, settings.kafka_controller_port):
            if port_open("127.0.0.1", port):
                raise StackError("kafka", f"port {port} is taken by another process; stop it or set OMNITRACK_KAFKA_PORT")
        libs = libs_dir(settings)
        java = _java(settings, libs)
        config = _config(settings)
        _format_storage(settings, java, config)
        proc.start([*java, MAIN_CLASS, str(config)])
    wait_until(lambda: metadata_ok(settings.bootstrap), component="kafka",
               what=f"broker at {settings.bootstrap} answers metadata requests",
               deadline_s=READY_DEADLINE_S, log=proc.log, abort=proc.exited_early)
    wait_until(lambda: coordinator_ok(settings.bootstrap), component="kafka",
               what=f"broker at {settings.bootstrap} names a group coordinator (__consumer_offsets ready)",
               deadline_s=READY_DEADLINE_S, log=proc.log, abort=proc.exited_early)


def down(settings: Settings) -> bool:
    """Stop the local broker; True if one was running."""
    return managed(settings) and process(settings).stop()
