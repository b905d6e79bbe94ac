"""docker-compose.yml checked statically against the code and the config files in deploy/.

No Docker engine is needed: the file is read with PyYAML and every service is
checked for what would otherwise only fail at `docker compose up` — a build
context or bind-mounted file that does not exist, an engine command the CLI does
not know, a container port no listener uses, a Prometheus target on the wrong
service or port.
"""

from __future__ import annotations

import ast
import base64
import json
import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from omnitrack.cli import build_parser
from omnitrack.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENGINE_DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
PROMETHEUS_FILE = ROOT / "deploy" / "prometheus" / "prometheus.yml"

REQUIRED_SERVICES = {"kafka", "mosquitto", "certs", "moto", "bridge", "worker", "decider", "notify-provision", "notifier",
                     "api", "prometheus", "grafana"}
"""`simulator` joins these once `omnitrack simulate fleet` exists."""

ENGINE_ROLES = {"bridge", "worker", "decider", "notifier", "api"}
"""Engine subcommands that serve Prometheus metrics (settings.metrics_port_for)."""


SERVICE_KEYS = frozenset("""
    annotations attach blkio_config build cap_add cap_drop cgroup cgroup_parent command configs container_name
    cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpu_shares cpus cpuset credential_spec
    depends_on deploy develop device_cgroup_rules devices dns dns_opt dns_search domainname entrypoint env_file
    environment expose extends external_links extra_hosts gpus group_add healthcheck hostname image init ipc
    isolation label_file labels links logging mac_address mem_limit mem_reservation mem_swappiness memswap_limit
    models network_mode networks oom_kill_disable oom_score_adj pid pids_limit platform ports post_start pre_stop
    privileged profiles provider pull_policy pull_refresh_after read_only restart runtime scale secrets security_opt
    shm_size stdin_open stop_grace_period stop_signal storage_opt sysctls tmpfs tty ulimits use_api_socket user
    userns_mode uts volumes volumes_from working_dir
""".split())
"""Service attributes of the Compose Specification (compose-spec/schema/compose-spec.json)."""

HEALTHCHECK_KEYS = frozenset({"disable", "interval", "retries", "test", "timeout", "start_period", "start_interval"})
TOP_LEVEL_KEYS = frozenset({"version", "name", "include", "services", "models", "networks", "volumes", "secrets", "configs"})
DEPENDS_ON_CONDITIONS = frozenset({"service_started", "service_healthy", "service_completed_successfully"})


# --- helpers ------------------------------------------------------------------------


def _interpolate(value: str) -> str:
    """Compose's variable syntax as `docker compose config` resolves it with an empty environment."""
    value = re.sub(r"\$\{(\w+)(?::?-([^}]*))?\}", lambda m: m.group(2) or "", value)
    return value.replace("$$", "$")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return shlex.split(_interpolate(value))
    return [_interpolate(str(v)) for v in value]


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): _interpolate(str(v)) for k, v in env.items() if v is not None}


def _container_ports(service: dict) -> set[int]:
    """Ports the container listens on, from `ports` (either syntax) and `expose`."""
    ports: set[int] = set()
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            spec = str(entry).split("/")[0]
            ports.add(int(spec.rsplit(":", 1)[-1]))
    for entry in service.get("expose") or []:
        ports.add(int(str(entry).split("/")[0]))
    return ports


def _published_host_ports(service: dict) -> list[str]:
    out = []
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("published"):
                out.append(str(entry["published"]))
        elif ":" in str(entry):
            out.append(str(entry))
    return out


def _volumes(service: dict) -> list[tuple[str, str, str]]:
    """(type, source, target) of each volume entry; an anonymous volume has source ''."""
    out = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            out.append((entry.get("type", "volume"), entry.get("source", ""), entry["target"]))
            continue
        parts = str(entry).split(":")
        if len(parts) == 1:
            out.append(("volume", "", parts[0]))
            continue
        source, target = parts[0], parts[1]
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        out.append((kind, source, target))
    return out


def _is_engine(service: dict) -> bool:
    build = service.get("build")
    if build is None:
        return False
    dockerfile = build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
    context = build.get("context", ".") if isinstance(build, dict) else build
    return (ROOT / context / dockerfile).resolve() == ENGINE_DOCKERFILE.resolve()


def _dockerfile_entrypoint() -> list[str]:
    entrypoints = [line for line in ENGINE_DOCKERFILE.read_text().splitlines() if line.startswith("ENTRYPOINT")]
    assert entrypoints, "deploy/docker/Dockerfile has no ENTRYPOINT"
    return json.loads(entrypoints[-1].removeprefix("ENTRYPOINT").strip())


def _settings_for(service: dict, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings an engine process in this service reads from its environment."""
    for key in list(os.environ):
        if key.startswith("OMNITRACK_") or key.startswith("KAFKA_"):
            monkeypatch.delenv(key)
    for key, value in _environment(service).items():
        monkeypatch.setenv(key, value)
    # The Dockerfile's ENV, which the compose environment may override.
    for line in ENGINE_DOCKERFILE.read_text().splitlines():
        for name in ("OMNITRACK_METRICS_HOST", "OMNITRACK_HOME"):
            m = re.search(rf"\b{name}=(\S+)", line)
            if m and name not in _environment(service):
                monkeypatch.setenv(name, m.group(1))
    return Settings()


def _properties(path: Path) -> dict[str, str]:
    props: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "!")) and "=" in line:
            key, value = line.split("=", 1)
            props[key.strip()] = value.strip()
    return props


def _listener_ports(listeners: str) -> set[int]:
    return {int(item.rsplit(":", 1)[1]) for item in listeners.split(",") if item.strip()}


# --- fixtures -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict:
    assert COMPOSE_FILE.is_file(), "docker-compose.yml is missing at the repository root"
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


@pytest.fixture(scope="module")
def engine_services(services: dict[str, dict]) -> dict[str, dict]:
    found = {name: svc for name, svc in services.items() if _is_engine(svc)}
    assert found, "no service builds deploy/docker/Dockerfile"
    return found


@pytest.fixture(scope="module")
def prometheus_config() -> dict:
    data = yaml.safe_load(PROMETHEUS_FILE.read_text())
    assert isinstance(data, dict) and data.get("scrape_configs"), "prometheus.yml has no scrape_configs"
    return data


# --- the file as a whole ------------------------------------------------------------


def test_required_services_present(services: dict[str, dict]) -> None:
    missing = REQUIRED_SERVICES - services.keys()
    assert not missing, f"docker-compose.yml lacks services {sorted(missing)}"


def test_keys_follow_the_compose_specification(compose: dict, services: dict[str, dict]) -> None:
    for key in compose:
        assert key in TOP_LEVEL_KEYS or key.startswith("x-"), f"unknown top-level key {key!r}"
    for name, svc in services.items():
        unknown = {k for k in svc if k not in SERVICE_KEYS and not k.startswith("x-")}
        assert not unknown, f"service {name}: unknown keys {sorted(unknown)}"
        health = svc.get("healthcheck") or {}
        assert set(health) <= HEALTHCHECK_KEYS, f"service {name}: unknown healthcheck keys {set(health) - HEALTHCHECK_KEYS}"
        if health.get("test") is not None and not isinstance(health["test"], str):
            assert health["test"][0] in ("CMD", "CMD-SHELL", "NONE"), f"service {name}: healthcheck test must start with CMD"
        deps = svc.get("depends_on") or {}
        if isinstance(deps, dict):
            for dep, spec in deps.items():
                assert spec.get("condition") in DEPENDS_ON_CONDITIONS, f"service {name}: depends_on {dep} needs a condition"
        assert not isinstance(svc.get("restart"), bool), f"service {name}: quote restart: \"no\" (YAML reads no as false)"
        assert isinstance(svc.get("stop_grace_period", ""), str), f"service {name}: stop_grace_period is a duration string"


def test_every_service_has_an_image_or_a_build(services: dict[str, dict]) -> None:
    for name, svc in services.items():
        assert svc.get("image") or svc.get("build"), f"service {name} has neither image nor build"
        image = svc.get("image")
        if image and not svc.get("build"):
            assert ":" in image and not image.endswith(":latest"), f"service {name}: pin the image tag ({image})"


def test_build_contexts_and_dockerfiles_exist(services: dict[str, dict]) -> None:
    for name, svc in services.items():
        build = svc.get("build")
        if build is None:
            continue
        context = build if isinstance(build, str) else build.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
        assert (ROOT / context).is_dir(), f"service {name}: build context {context} does not exist"
        assert (ROOT / context / dockerfile).is_file(), f"service {name}: {dockerfile} does not exist in {context}"


def test_bind_mounts_exist_and_named_volumes_are_declared(compose: dict, services: dict[str, dict]) -> None:
    declared = set((compose.get("volumes") or {}).keys())
    for name, svc in services.items():
        for kind, source, target in _volumes(svc):
            assert target.startswith("/"), f"service {name}: volume target {target} is not absolute"
            if kind == "bind":
                path = (ROOT / source).resolve()
                assert path.exists(), f"service {name}: bind-mounted {source} does not exist in the repository"
                assert ROOT.resolve() in path.parents or path == ROOT.resolve(), \
                    f"service {name}: {source} lies outside the repository"
            elif source:
                assert source in declared, f"service {name}: volume {source} is not declared under volumes:"


def test_depends_on_names_services_with_the_right_conditions(services: dict[str, dict]) -> None:
    for name, svc in services.items():
        deps = svc.get("depends_on") or {}
        if isinstance(deps, list):
            deps = {d: {"condition": "service_started"} for d in deps}
        for dep, spec in deps.items():
            assert dep in services, f"service {name} depends on unknown service {dep}"
            condition = (spec or {}).get("condition", "service_started")
            if condition == "service_healthy":
                assert services[dep].get("healthcheck"), f"{name} waits for {dep} to be healthy; {dep} has no healthcheck"
            if condition == "service_completed_successfully":
                assert services[dep].get("restart", "no") == "no", \
                    f"{name} waits for {dep} to complete, but {dep} restarts"


def test_dockerignore_keeps_local_state_out() -> None:
    path = ROOT / ".dockerignore"
    assert path.is_file(), ".dockerignore is missing"
    entries = {line.strip().rstrip("/") for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")}
    for needed in (".venv", ".omnitrack", ".git"):
        assert needed in entries, f".dockerignore must exclude {needed}"
    assert any("__pycache__" in e for e in entries), ".dockerignore must exclude __pycache__"


# --- the engine services ------------------------------------------------------------


def test_dockerfile_runs_omnitrack_as_non_root() -> None:
    text = ENGINE_DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim|^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.M), \
        "the engine image is based on python:3.11-slim"
    assert _dockerfile_entrypoint() == ["omnitrack"]
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0", "0:0"), "the engine image must run as a non-root user"
    assert re.search(r"pip install", text), "the engine image installs the project with pip"


def test_engine_commands_are_omnitrack_subcommands(engine_services: dict[str, dict]) -> None:
    parser = build_parser()
    checked = 0
    for name, svc in engine_services.items():
        if "entrypoint" in svc:
            continue  # a one-shot with its own program (certs); checked below
        argv = _as_list(svc.get("command"))
        assert argv, f"service {name}: an engine service needs a command (the omnitrack subcommand)"
        try:
            parser.parse_args(argv)
        except SystemExit as exc:  # argparse exits on an unknown subcommand or option
            pytest.fail(f"service {name}: `omnitrack {' '.join(argv)}` is not a valid command (exit {exc.code})")
        checked += 1
    assert checked >= 2, "expected at least the bridge and the worker to run omnitrack subcommands"


def test_certs_one_shot_uses_the_real_certs_module(services: dict[str, dict]) -> None:
    from omnitrack.stack import certs

    svc = services["certs"]
    assert _is_engine(svc), "the certs service uses the engine image"
    argv = _as_list(svc.get("entrypoint")) + _as_list(svc.get("command"))
    assert argv[:2] == ["python", "-c"], "the certs service runs a python -c snippet"
    code = argv[2]
    tree = ast.parse(code)  # a syntax error fails here
    used = {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "certs"}
    assert used, "the snippet should call omnitrack.stack.certs"
    for attr in used:
        assert hasattr(certs, attr), f"omnitrack.stack.certs has no {attr}"
    # What Mosquitto's docker.conf reads from the certs volume is what the snippet writes.
    conf = (ROOT / "deploy" / "mosquitto" / "docker.conf").read_text()
    for needed in re.findall(r"^(?:cafile|certfile|keyfile)\s+/mosquitto/certs/(\S+)", conf, re.M):
        stem = needed.rsplit(".", 1)[0]
        assert f'"{stem}"' in code or (stem == "ca" and "ensure_ca" in code), f"the certs service does not write {needed}"
    mounts = {target for kind, source, target in _volumes(svc) if source == "certs"}
    assert mounts and all(f'Path("{m}")' in code for m in mounts), "the snippet writes into the mounted certs volume"
    assert svc.get("restart") == "no", "a one-shot must not be restarted"


def test_engine_environment_names_real_settings(engine_services: dict[str, dict], services: dict[str, dict]) -> None:
    fields = {name.upper() for name in Settings.model_fields}
    for name, svc in engine_services.items():
        env = _environment(svc)
        for key in env:
            if key.startswith("OMNITRACK_"):
                assert key.removeprefix("OMNITRACK_") in fields, f"service {name}: {key} is not a setting"
        if "entrypoint" in svc:
            continue
        host, _, port = env.get("KAFKA_BOOTSTRAP", "").partition(":")
        assert host in services, f"service {name}: KAFKA_BOOTSTRAP={env.get('KAFKA_BOOTSTRAP')} names no compose service"
        kafka_listeners = _listener_ports(_properties(ROOT / "deploy/kafka/docker.properties")["advertised.listeners"])
        assert int(port) in kafka_listeners, f"service {name}: KAFKA_BOOTSTRAP port {port} is no advertised Kafka listener"
        assert env.get("OMNITRACK_MQTT_HOST") in services, f"service {name}: OMNITRACK_MQTT_HOST names no compose service"
        mqtt_ports = _mosquitto_listeners()
        assert int(env.get("OMNITRACK_MQTT_PORT", "1883")) in mqtt_ports
        assert int(env.get("OMNITRACK_MQTTS_PORT", "8883")) in mqtt_ports


def test_engine_metrics_bind_all_interfaces(engine_services: dict[str, dict], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, svc in engine_services.items():
        if "entrypoint" in svc:
            continue
        settings = _settings_for(svc, monkeypatch)
        assert settings.metrics_host == "0.0.0.0", f"service {name}: metrics must bind 0.0.0.0 in a container"
        role = _as_list(svc.get("command"))[0]
        if role in ENGINE_ROLES:
            port = settings.metrics_port_for(role)
            assert port in _container_ports(svc), f"service {name}: metrics port {port} is not exposed"
            health = " ".join(_as_list((svc.get("healthcheck") or {}).get("test")))
            if health:
                assert f":{port}/" in health, f"service {name}: the healthcheck probes another port than {port}"


def test_worker_is_scalable(services: dict[str, dict]) -> None:
    worker = services["worker"]
    assert _as_list(worker.get("command"))[0] == "worker"
    assert "container_name" not in worker, "a scaled service cannot have a container_name"
    assert not _published_host_ports(worker), "a scaled service cannot publish a fixed host port"
    assert "hostname" not in worker
    # RocksDB state: never one named volume shared by all replicas (they would fight over the lock).
    for kind, source, target in _volumes(worker):
        assert not (kind == "volume" and source), f"worker: volume {source}:{target} would be shared by every replica"


# --- infrastructure ports against their config files --------------------------------


def _mosquitto_listeners() -> set[int]:
    text = (ROOT / "deploy" / "mosquitto" / "docker.conf").read_text()
    return {int(p) for p in re.findall(r"^\s*listener\s+(\d+)", text, re.M)}


def test_mosquitto_mounts_and_ports_match_docker_conf(services: dict[str, dict]) -> None:
    svc = services["mosquitto"]
    assert svc["image"].startswith("eclipse-mosquitto:2")
    listeners = _mosquitto_listeners()
    assert listeners == {1883, 8883}
    assert _container_ports(svc) == listeners, f"mosquitto ports {_container_ports(svc)} != listeners {listeners}"
    mounts = {target: (kind, source) for kind, source, target in _volumes(svc)}
    assert mounts["/mosquitto/config/mosquitto.conf"] == ("bind", "./deploy/mosquitto/docker.conf")
    conf = (ROOT / "deploy" / "mosquitto" / "docker.conf").read_text()
    include = re.search(r"^include_dir\s+(\S+)", conf, re.M).group(1)
    assert mounts[include] == ("bind", "./deploy/mosquitto/conf.d")
    certs_dir = re.search(r"^cafile\s+(\S+)/", conf, re.M).group(1)
    assert mounts[certs_dir] == ("volume", "certs"), "the certs volume is mounted where docker.conf reads certificates"
    persistence = re.search(r"^persistence_location\s+(\S+)", conf, re.M).group(1).rstrip("/")
    assert mounts[persistence][0] == "volume" and mounts[persistence][1], "the persistence location is a named volume"
    assert "certs" in (svc.get("depends_on") or {}), "mosquitto waits for the certificates"


def test_kafka_ports_and_command_match_docker_properties(services: dict[str, dict]) -> None:
    svc = services["kafka"]
    assert svc["image"] == "apache/kafka:4.1.1"
    props = _properties(ROOT / "deploy" / "kafka" / "docker.properties")
    listeners = _listener_ports(props["listeners"])
    assert {9092, 9093} <= listeners
    ports = _container_ports(svc)
    assert {9092, 9093} <= ports, f"kafka must expose 9092 and 9093, has {sorted(ports)}"
    assert ports <= listeners, f"kafka container ports {sorted(ports - listeners)} match no listener"
    # Host-published ports are the ones advertised for the host (EXTERNAL://localhost:PORT).
    for spec in _published_host_ports(svc):
        target = int(spec.split("/")[0].rsplit(":", 1)[-1])
        advertised = {item.split("://")[0]: int(item.rsplit(":", 1)[1]) for item in props["advertised.listeners"].split(",")}
        assert target in advertised.values(), f"kafka publishes {target}, which is not advertised"
    # The broker's own name matches controller.quorum.voters and the advertised PLAINTEXT listener.
    voters_host = props["controller.quorum.voters"].split("@", 1)[1].rsplit(":", 1)[0]
    assert voters_host == "kafka" and "kafka" in services

    mounts = {source: target for kind, source, target in _volumes(svc) if kind == "bind"}
    assert "./deploy/kafka/server.properties" in mounts and "./deploy/kafka/docker.properties" in mounts
    data_mounts = {target for kind, source, target in _volumes(svc) if kind == "volume"}
    assert props["log.dirs"] in data_mounts, "the KRaft log directory is a named volume"
    script = " ".join(_as_list(svc.get("command")))
    server_props, docker_props = mounts["./deploy/kafka/server.properties"], mounts["./deploy/kafka/docker.properties"]
    assert re.search(rf"cat {re.escape(server_props)} {re.escape(docker_props)} >", script), \
        "the broker config is server.properties with docker.properties appended"
    assert "kafka-storage.sh format" in script and "--ignore-formatted" in script
    assert "kafka-server-start.sh" in script
    cluster_id = _environment(svc)["CLUSTER_ID"]
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16, "CLUSTER_ID must be a base64 UUID"


# --- Prometheus ---------------------------------------------------------------------


def _scrape_targets(prometheus_config: dict) -> list[tuple[str, str, int]]:
    """(job, host, port) of every static or DNS-discovered target."""
    out = []
    for job in prometheus_config["scrape_configs"]:
        for static in job.get("static_configs") or []:
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                out.append((job["job_name"], host, int(port)))
        for dns in job.get("dns_sd_configs") or []:
            assert dns.get("type", "SRV") == "A", f"job {job['job_name']}: compose DNS serves A records"
            for name in dns["names"]:
                out.append((job["job_name"], name.removeprefix("tasks."), int(dns["port"])))
    return out


def test_prometheus_config_parses_and_is_mounted(services: dict[str, dict], prometheus_config: dict) -> None:
    svc = services["prometheus"]
    mounts = {source: target for kind, source, target in _volumes(svc) if kind == "bind"}
    target = mounts.get("./deploy/prometheus/prometheus.yml")
    assert target, "prometheus mounts deploy/prometheus/prometheus.yml"
    assert f"--config.file={target}" in _as_list(svc.get("command")) or target == "/etc/prometheus/prometheus.yml"
    names = [job["job_name"] for job in prometheus_config["scrape_configs"]]
    assert len(names) == len(set(names)), "duplicate job names"


def test_prometheus_targets_are_compose_services_on_their_metrics_ports(
    services: dict[str, dict], engine_services: dict[str, dict], prometheus_config: dict,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scraped_roles = set()
    for job, host, port in _scrape_targets(prometheus_config):
        if host == "localhost":
            assert port == 9090 and job == "prometheus", f"job {job}: only Prometheus scrapes itself on localhost"
            continue
        assert host in services, f"job {job}: target {host} is not a compose service"
        svc = services[host]
        assert port in _container_ports(svc), f"job {job}: {host} does not expose {port}"
        if host in engine_services:
            role = _as_list(svc.get("command"))[0]
            assert role in ENGINE_ROLES, f"job {job}: {host} runs `omnitrack {role}`, which serves no metrics"
            expected = _settings_for(svc, monkeypatch).metrics_port_for(role)
            assert port == expected, f"job {job}: {host} serves metrics on {expected}, not {port}"
            scraped_roles.add(role)
    assert scraped_roles == ENGINE_ROLES, f"Prometheus scrapes {sorted(scraped_roles)}, expected {sorted(ENGINE_ROLES)}"


def test_worker_replicas_are_discovered_by_dns(prometheus_config: dict) -> None:
    worker_jobs = [job for job in prometheus_config["scrape_configs"]
                   if any("worker" in [n.removeprefix("tasks.") for n in d["names"]] for d in job.get("dns_sd_configs") or [])]
    assert worker_jobs, "worker replicas are found with dns_sd_configs on the `worker` name (one A record each)"
    for job in prometheus_config["scrape_configs"]:
        for static in job.get("static_configs") or []:
            assert not any(t.startswith("worker:") for t in static["targets"]), \
                "a static worker target would scrape one replica at random"


def test_grafana_provisioning_is_mounted(services: dict[str, dict]) -> None:
    svc = services["grafana"]
    mounts = {source: target for kind, source, target in _volumes(svc) if kind == "bind"}
    assert mounts.get("./deploy/grafana/provisioning") == "/etc/grafana/provisioning"
    dashboards_target = mounts.get("./deploy/grafana/dashboards")
    assert dashboards_target, "grafana mounts deploy/grafana/dashboards"
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/dashboards.yml").read_text())
    paths = {p["options"]["path"] for p in provider["providers"]}
    assert paths == {dashboards_target}, f"the dashboard provider reads {paths}, the dashboards are at {dashboards_target}"
    home = _environment(svc).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        assert home.startswith(dashboards_target + "/")
        assert (ROOT / "deploy/grafana/dashboards" / home.removeprefix(dashboards_target + "/")).is_file()


def test_notifier_talks_to_moto_after_provisioning(services: dict[str, dict], monkeypatch: pytest.MonkeyPatch) -> None:
    """The notifier's SNS endpoint is the moto service on a port it listens on, and the one-shot that creates the
    topics has completed first (else the first alerts would go to topics without subscribers)."""
    from urllib.parse import urlsplit

    for name in ("notifier", "notify-provision"):
        settings = _settings_for(services[name], monkeypatch)
        url = urlsplit(settings.sns_endpoint or "")
        assert url.hostname == "moto", f"service {name}: SNS endpoint {settings.sns_endpoint} is not the moto service"
        assert url.port in _container_ports(services["moto"]), f"service {name}: moto does not listen on {url.port}"
        assert not settings.sns_managed, f"service {name}: would try to start a moto of its own"
    assert services["notifier"]["depends_on"]["notify-provision"]["condition"] == "service_completed_successfully"
    assert services["notify-provision"]["depends_on"]["moto"]["condition"] == "service_healthy"
    assert _as_list(services["notifier"]["command"])[0] == "notifier"


def test_api_serves_its_published_port_with_the_secret_from_the_host(services: dict[str, dict],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The API binds all interfaces on the port compose publishes, and its JWT secret is the host's variable,
    never a value written in the file."""
    svc = services["api"]
    assert _as_list(svc.get("command"))[0] == "api"
    settings = _settings_for(svc, monkeypatch)
    assert settings.api_host == "0.0.0.0", "the API must bind 0.0.0.0 in a container"
    assert settings.api_port in _container_ports(svc)
    assert any(spec.rsplit(":", 1)[-1] == str(settings.api_port) for spec in _published_host_ports(svc))
    secret = str((svc.get("environment") or {}).get("OMNITRACK_API_JWT_SECRET", ""))
    assert re.fullmatch(r"\$\{OMNITRACK_API_JWT_SECRET(:?[-?][^}]*)?\}", secret), \
        f"OMNITRACK_API_JWT_SECRET must come from the host environment, not {secret!r}"
