"""One settings object, read from the environment, for every process.

Why one object: the bridge, the workers, the notifier and the tests must agree
on where the broker is and what the topics are called; reading the environment
in one place keeps them from drifting apart. Secrets (AWS keys, JWT keys) are
read from the environment only and are never written to files by the project,
with one local exception: the API's development JWT secret (streams/api/keys.py),
made only when no key is configured, and never used by a production setup.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


MAX_LOCAL_BROKERS = 5
"""Most local Kafka nodes: five voters survive two losses; beyond that a laptop only swaps (512 MB heap each)."""


def project_root() -> Path:
    """The checkout this package runs from, or the working directory when installed."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").is_file() else Path.cwd()


class Settings(BaseSettings):
    """Configuration of every OmniTrack process (environment variables, prefix `OMNITRACK_`)."""

    model_config = SettingsConfigDict(env_prefix="OMNITRACK_", extra="ignore", frozen=True)

    home: Path = Field(default_factory=lambda: project_root() / ".omnitrack")
    """Root of everything the project writes locally (cache, stack state)."""

    stack_dir: Path | None = None
    """State of the local stack (data, logs, pids, certificates); default `home/stack`."""

    cache_dir: Path | None = None
    """Downloaded artefacts such as the Kafka jars; default `home/cache`."""

    # --- Kafka -------------------------------------------------------------
    kafka_bootstrap: str | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_BOOTSTRAP", "OMNITRACK_KAFKA_BOOTSTRAP")
    )
    """An existing cluster to use; when set the local stack starts no broker."""

    kafka_home: Path | None = Field(
        default=None, validation_alias=AliasChoices("KAFKA_HOME", "OMNITRACK_KAFKA_HOME")
    )
    """An Apache Kafka distribution to run instead of the jars resolved from Maven Central."""

    kafka_port: int = 9092
    kafka_controller_port: int = 9093
    kafka_heap: str = "512m"

    kafka_brokers: int = Field(1, ge=1, le=MAX_LOCAL_BROKERS)
    """Brokers of the local stack (`omnitrack stack up --brokers N`). 1: one broker+controller node, exactly
    as before. More: N combined broker+controller nodes with an N-voter quorum; node n (1..N) listens on
    `kafka_port + 10·(n-1)` and its controller on `kafka_controller_port + 10·(n-1)` (see `kafka_nodes`).
    3 is the size that survives the loss of a broker: topics get 3 replicas and min.insync.replicas=2."""

    # --- MQTT ---------------------------------------------------------------
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtts_port: int = 8883

    topic_prefix: str = ""
    """Prepended to every Kafka topic and consumer group (tests give each run its own)."""

    # --- Bridge (MQTT -> Kafka) --------------------------------------------------
    bridge_transport: str = Field(default="paho", pattern="^(paho|awsiot)$")
    """`paho` for any MQTT broker, `awsiot` for AWS IoT Core (mTLS, awsiotsdk)."""

    bridge_client_id: str = "omnitrack-bridge-0"
    """MQTT client id; stable across restarts so the persistent session keeps unacked messages."""

    bridge_session_expiry_s: int = 7 * 24 * 3600
    """How long the broker keeps the bridge's session (and queues for it) while the bridge is away."""

    bridge_share_group: str = "omnitrack"
    """Shared-subscription group: several bridges with this group split the load."""

    bridge_tls: bool = False
    """Connect the paho transport to the mTLS listener with the bridge's client certificate."""

    iot_endpoint: str | None = None
    """AWS IoT Core data endpoint (xxxx-ats.iot.REGION.amazonaws.com) for the `awsiot` transport."""

    bridge_cert: Path | None = None
    bridge_key: Path | None = None
    bridge_ca: Path | None = None

    device_registry: bool = False
    """Reject readings from devices missing from the network file (reason `unknown_device`)."""

    bridge_linger_ms: float = 10.0
    """How long the bridge gathers readings before producing one Kafka record per partition.

    Bigger records cost the twin worker fewer Faust events (~100 µs each): at 5,000 readings/s, 5 ms gave
    alert p50 ≈ 2 s on 2026-11-26 (the worker fell behind; it is cheaper now), 25 ms p50 ≈ 40 ms. Since the worker's
    stalls were removed (2026-12-05, docs/BENCHMARKS.md) 10 ms gives p50 ≈ 27 ms and p99 ≈ 42-56 ms against 70-85 ms
    at 25 ms, for ~15-25 % fewer single-reading messages per second through one worker."""

    bridge_receive_maximum: int = 2000
    """MQTT 5 receive maximum: unacknowledged messages the broker may push to the bridge at once."""

    network_file: Path = Field(default_factory=lambda: project_root() / "simulators" / "networks" / "example_network.json")
    """The supply network (nodes, lanes, devices) the twin is built on: JSON or YAML."""

    decision_fail_stage: str | None = Field(default=None, pattern="^(info|scenario|impact|strategy|negotiation)$")
    """Fault injection: make this pipeline stage raise, to rehearse failure handling end to end."""

    decision_kernel: Literal["interval", "flow"] = "flow"
    """Monte Carlo kernel of the decider's Impact and Strategy stages: ``flow`` (quantities over lanes with
    capacities, sourcing shares and bills of materials, engine.flow; docs/decisions.md section 6) or
    ``interval`` (outage intervals, engine.montecarlo: coarser, ~5x faster). ``flow`` since 2026-12-05: it
    answers 10k trials x 8 strategies in 0.63 s p50 over Kafka, and the interval model misses the impact of
    most nodes' outages (docs/BENCHMARKS.md, issue 15)."""

    # --- Workers -----------------------------------------------------------------
    worker_id: int = 0
    """Index of this Faust worker on the machine: picks its RocksDB folder and ports."""

    stream_producer_linger_ms: float = Field(1.0, ge=0, le=1000)
    """How long a Faust app's producer gathers records (table changelogs, alert inputs, alerts) before a send.

    Two of the alert path's hops wait for it (5 ms cost ~8 ms of alert p50 against 0). 0 sends at once, but then
    every changelog write of the worker is a request of its own when the machine is idle: 1 ms keeps most of the
    latency gain (`bench latency`) and costs less of the worker's throughput (`bench ingest`)."""

    worker_standby_replicas: int = Field(0, ge=0, le=2)
    """Standby copies of each twin table partition kept by the other workers (Faust's `table_standby_replicas`):
    with 1, a worker that dies is replaced by one whose tables are already up to date, instead of one that
    first restores them from the changelogs. Costs each worker the changelog traffic of the partitions it
    stands by for; useless with a single worker."""

    # --- API (streams/api; docs/api.md) and metrics -----------------------------
    api_host: str = "127.0.0.1"
    """Interface the HTTP API binds to (0.0.0.0 in containers)."""

    api_port: int = 8080

    api_jwt_secret: SecretStr | None = None
    """HMAC key the API verifies bearer tokens with (OMNITRACK_API_JWT_SECRET, from the environment only; at
    least 32 characters). Unset: `omnitrack run` / `omnitrack api token` use a development secret kept in
    `home/api/dev-jwt-secret`; production must set it (or `api_jwt_public_key_file`)."""

    api_jwt_public_key_file: Path | None = None
    """PEM public key of the identity provider (RS256/ES256 tokens); when set, the secret is not used and
    `api_jwt_algorithms` must name asymmetric algorithms only (no key confusion)."""

    api_jwt_algorithms: tuple[str, ...] = ("HS256",)
    """Algorithms accepted, fixed here and never read from the token (`none` is refused); JSON in the
    environment, e.g. OMNITRACK_API_JWT_ALGORITHMS='["RS256"]'. A tuple: the settings object stays hashable."""

    api_jwt_audience: str = "omnitrack-api"
    """Required `aud` claim: a token minted for another service is refused here."""

    api_jwt_issuer: str = "omnitrack"
    """Required `iss` claim."""

    api_jwt_leeway_s: float = Field(30.0, ge=0, le=300)
    """Clock skew tolerated on `exp`/`nbf`/`iat` between the issuer and this host."""

    api_metrics_port: int = 0
    """Prometheus port of the API; 0 = `metrics_port + 50`; -1 = off."""

    api_rate_limit_per_s: float = Field(20.0, ge=0)
    """Requests per second each token subject (`sub`) may make, sustained (a token bucket per subject, per API
    replica); 0 = no limit. Beyond it the API answers 429 with `Retry-After`."""

    api_rate_limit_burst: int = Field(100, ge=1)
    """Requests a subject may make at once above the sustained rate (the bucket's size)."""

    api_cors_origins: tuple[str, ...] = ()
    """Browser origins allowed to call the API from another origin (CORS), e.g. '["https://ops.example.com"]';
    `"*"` allows any. Empty: none (the console is served by the API itself, same origin, and needs none)."""

    api_cors_max_age_s: int = Field(600, ge=0, le=86_400)
    """How long a browser may cache a CORS preflight answer."""

    metrics_host: str = "127.0.0.1"
    """Interface the Prometheus endpoints bind to (0.0.0.0 in containers)."""

    metrics_port: int = 9464
    """First Prometheus port; the bridge and each worker take the next ones (see `metrics_port_for`)."""

    free_ports_low: int = Field(20000, ge=1024, le=65000)
    free_ports_high: int = Field(32000, ge=1025, le=65535)
    """Where `omnitrack.ports.free_port_block` picks ports for engines started side by side (benchmarks, tests):
    below the kernel's client ports (32768 up). Parallel test workers each get a slice of their own
    (tests/parallel.py), so two of them never pick the same block at the same moment."""

    # --- Amazon SNS (local: moto's server mode, started by the stack) ----------------
    sns_mode: Literal["local", "aws"] = "local"
    """`local`: the stack runs moto's SNS on loopback; `aws`: real Amazon SNS through boto3's chain, no moto."""

    sns_port: int = 4566
    """Port of the stack's moto server (LocalStack's customary port, so tools configured for it work)."""

    aws_endpoint_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AWS_ENDPOINT_URL", "OMNITRACK_AWS_ENDPOINT_URL")
    )
    """boto3's own endpoint override; when it points elsewhere than the stack's moto, the stack starts none."""

    # --- Snapshots of the table changelogs to S3 (streams/snapshot; docs/operations.md) ----------------
    snapshot_bucket: str = "omnitrack-snapshots"
    """S3 bucket the snapshots go to (created if missing: moto starts empty)."""

    snapshot_prefix: str = "twin-snapshots"
    """Key prefix inside the bucket; each snapshot is `<prefix>/<id>/manifest.json` plus one object per partition."""

    snapshot_interval_s: float = Field(300.0, gt=0)
    """`omnitrack snapshot run`: seconds between snapshots (start to start). The snapshots' RPO is this plus one
    dump's duration; Kafka's replicas, not the snapshots, are what a single broker's loss is covered by."""

    snapshot_keep: int = Field(48, ge=0)
    """`omnitrack snapshot run` keeps this deployment's newest N snapshots and deletes older ones; 0 = keep all
    (then let an S3 lifecycle rule expire them)."""

    snapshot_endpoint_url: str | None = None
    """S3 endpoint override (moto, MinIO, ...); else `AWS_ENDPOINT_URL`, else the stack's moto when the stack runs
    it (`sns_managed`), else Amazon S3 through boto3's chain. See `snapshot_endpoint`."""

    # --- Notifier (streams/notify; env prefix OMNITRACK_NOTIFY_) -----------------------
    # Secrets (webhook URLs, phone numbers, AWS keys) are NOT fields: they are read from the environment
    # variables the routing policy names, and AWS credentials through boto3's own chain.
    notify_policy_file: Path = Field(default_factory=lambda: project_root() / "deploy" / "notify" / "routing.yaml")
    """The routing policy (YAML)."""

    notify_sns_endpoint_url: str | None = None
    """SNS endpoint override (moto, LocalStack); else `AWS_ENDPOINT_URL`, else the stack's moto in `local` mode,
    else boto3's region endpoint."""

    notify_region: str | None = None
    """AWS region; else boto3's chain (`AWS_REGION` / `AWS_DEFAULT_REGION`)."""

    notify_batch_max: int = Field(100, ge=1, le=1000)
    """Alerts taken from Kafka per delivery round. A round's entries for one SNS topic go out as PublishBatch
    calls of 10 (the API's limit), 4 in flight: under a storm or a backlog a round fills up and the round trips
    overlap; when alerts trickle in, a round is whatever `notify_batch_linger_s` collected. The price: a crash
    mid-round leaves up to a round's deliveries in doubt (dead-lettered as `in_doubt`, never re-sent blindly)."""

    notify_batch_linger_s: float = Field(0.2, gt=0)
    """How long a round waits to fill: bounds the added latency of batching."""

    notify_retry_max_attempts: int = Field(8, ge=1)
    """Attempts per delivery before it is dead-lettered."""

    notify_retry_base_s: float = Field(0.2, gt=0)
    """First backoff ceiling; doubles per attempt (full jitter draws in [0, ceiling])."""

    notify_retry_cap_s: float = Field(20.0, gt=0)
    """Largest backoff ceiling: a long outage still gets probed this often."""

    notify_retry_deadline_s: float = Field(120.0, gt=0)
    """Total time one delivery may spend retrying: past it the alert goes to the DLQ and the stream moves on."""

    notify_request_timeout_s: float = Field(5.0, gt=0)
    """Connect/read timeout of one HTTP call (SNS or webhook): a hung endpoint must not stall the stream."""

    notify_dedup_retention_s: float = Field(7 * 24 * 3600.0, gt=0)
    """How long delivered (alert, version, target) keys are kept: longer than any replay of the topic."""

    notify_in_doubt: Literal["dead_letter", "resend"] = "dead_letter"
    """A publish interrupted by a crash has an unknown outcome. `dead_letter` (default): never send twice, put
    it in the DLQ with reason `in_doubt` for an operator. `resend`: at-least-once, a subscriber may get it twice."""

    notify_metrics_port: int = 0
    """Prometheus port of the notifier; 0 = `metrics_port + 40 + worker_id`; -1 = off."""

    notify_node_types_from_network: bool = True
    """Load node kinds from the network file so routes can match `node_types`."""

    @field_validator("api_cors_origins")
    @classmethod
    def _origins(cls, origins: tuple[str, ...]) -> tuple[str, ...]:
        """An origin is `scheme://host[:port]`, exactly as a browser sends it: one with a path or a trailing
        slash would never match, and the mistake would show only as a browser refusing every call."""
        for origin in origins:
            parts = urlsplit(origin)
            if origin != "*" and (parts.scheme not in ("http", "https") or not parts.netloc
                                  or origin != f"{parts.scheme}://{parts.netloc}"):
                raise ValueError(f"api_cors_origins: {origin!r} is not an origin like 'https://host[:port]' or '*'")
        return origins

    @field_validator("api_jwt_algorithms")
    @classmethod
    def _no_unsigned_tokens(cls, algorithms: tuple[str, ...]) -> tuple[str, ...]:
        """An unsigned token (`alg: none`) would let anyone claim any role: never configurable."""
        if not algorithms:
            raise ValueError("api_jwt_algorithms must name at least one algorithm")
        if any(a.strip().lower() == "none" for a in algorithms):
            raise ValueError("api_jwt_algorithms must not contain 'none' (unsigned tokens)")
        return tuple(a.strip() for a in algorithms)

    @property
    def resolved_stack_dir(self) -> Path:
        return self.stack_dir or self.home / "stack"

    @property
    def resolved_cache_dir(self) -> Path:
        return self.cache_dir or self.home / "cache"

    @property
    def kafka_nodes(self) -> list[tuple[int, int, int]]:
        """The local stack's Kafka nodes as (node id, client port, controller port); node 1 keeps the single
        broker's ports, node n adds `KAFKA_NODE_PORT_STRIDE`·(n-1) to both."""
        step = KAFKA_NODE_PORT_STRIDE
        return [(n, self.kafka_port + step * (n - 1), self.kafka_controller_port + step * (n - 1))
                for n in range(1, self.kafka_brokers + 1)]

    @property
    def bootstrap(self) -> str:
        """The Kafka bootstrap servers every client uses: every local node, so a client that starts while
        one is down still finds the cluster."""
        return self.kafka_bootstrap or ",".join(f"127.0.0.1:{port}" for _, port, _ in self.kafka_nodes)


    def metrics_port_for(self, role: str) -> int:
        """The Prometheus port of one process: bridge = base, worker N = base + 1 + N, decider = base + 30,
        notifier N = base + 40 + N (or `notify_metrics_port`; -1 = off), api = base + 50 (or `api_metrics_port`)."""
        if role == "api":
            return self.api_metrics_port or self.metrics_port + API_METRICS_OFFSET
        if role == "notifier":
            return self.notify_metrics_port or self.metrics_port + NOTIFIER_METRICS_OFFSET + self.worker_id
        if role == "decider":
            return self.metrics_port + DECIDER_METRICS_OFFSET
        return self.metrics_port if role == "bridge" else self.metrics_port + 1 + self.worker_id

    @property
    def sns_local_url(self) -> str:
        """The stack's moto endpoint."""
        return f"http://127.0.0.1:{self.sns_port}"

    @property
    def sns_managed(self) -> bool:
        """True when the stack runs moto: `local` mode and no endpoint override pointing elsewhere."""
        if self.sns_mode != "local":
            return False
        return all(url is None or url.rstrip("/") == self.sns_local_url
                   for url in (self.aws_endpoint_url, self.notify_sns_endpoint_url))

    @property
    def sns_endpoint(self) -> str | None:
        """Where SNS calls go: the notify override, `AWS_ENDPOINT_URL`, the stack's moto, or None (real AWS)."""
        if self.notify_sns_endpoint_url or self.aws_endpoint_url:
            return self.notify_sns_endpoint_url or self.aws_endpoint_url
        return self.sns_local_url if self.sns_managed else None

    @property
    def snapshot_endpoint(self) -> str | None:
        """Where snapshots go: the override, `AWS_ENDPOINT_URL`, the stack's moto (which serves S3 too), or None
        (Amazon S3)."""
        if self.snapshot_endpoint_url or self.aws_endpoint_url:
            return self.snapshot_endpoint_url or self.aws_endpoint_url
        return self.sns_local_url if self.sns_managed else None


KAFKA_NODE_PORT_STRIDE = 10
"""Ports between one local Kafka node and the next. A stride of 1 put node 2's client port on node 1's controller
port (9093 with the defaults); 2 to 4 on the MQTT and SNS ports that tests/stack_env.py puts at kafka_port + 2..4."""

DECIDER_METRICS_OFFSET = 30
"""The decider's metrics port is base + 30: clear of the bridge and up to 28 twin workers."""

NOTIFIER_METRICS_OFFSET = 40
"""The notifier's metrics port is base + 40 + worker id: clear of the bridge (base) and up to 39 twin workers,
so two processes on one machine never fail on `address already in use`."""

API_METRICS_OFFSET = 50
"""The API's metrics port is base + 50: clear of the notifiers (base + 40 + worker id, up to 9 of them)."""


def is_loopback_url(url: str | None) -> bool:
    """True for an endpoint on this machine (moto, LocalStack): the only place dummy AWS credentials may go."""
    if not url:
        return False
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
