"""The Grafana dashboards query only metrics the code exports, through the provisioned datasource.

Exported names are collected statically: every `Counter("name", ...)`,
`Gauge(...)`, `Histogram(...)` and `Summary(...)` of prometheus_client in the
packages, expanded to the series Prometheus stores (a counter `x` as `x_total`,
a histogram `x` as `x_bucket`, `x_sum`, `x_count`, ...). Nothing is imported,
so a module that is mid-change elsewhere cannot break this test.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
DATASOURCES = ROOT / "deploy" / "grafana" / "provisioning" / "datasources"
PROMETHEUS_FILE = ROOT / "deploy" / "prometheus" / "prometheus.yml"
COMPOSE_FILE = ROOT / "docker-compose.yml"
PACKAGES = ("streams", "engine", "omnitrack", "twin", "simulators", "bench")

METRIC_TYPES = {"Counter", "Gauge", "Histogram", "Summary", "Info", "Enum"}

PROMETHEUS_SERIES = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added",
                     "scrape_samples_post_metric_relabeling"}
"""Series Prometheus itself writes for every target."""

PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
                "and", "or", "unless", "atan2", "inf", "nan", "start", "end"}


# --- what the code exports ------------------------------------------------------------


def _prometheus_names(tree: ast.AST) -> tuple[dict[str, str], set[str]]:
    """How a module names prometheus_client's metric classes: {local name: class} and module aliases."""
    direct: dict[str, str] = {}
    modules: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("prometheus_client"):
            for alias in node.names:
                if alias.name in METRIC_TYPES:
                    direct[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "prometheus_client":
                    modules.add(alias.asname or alias.name)
    return direct, modules


def _declared_metrics() -> Iterator[tuple[str, str, Path]]:
    """(class, name, file) for every metric declared in the packages."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []:
            text = path.read_text(encoding="utf-8")
            if "prometheus_client" not in text:
                continue
            tree = ast.parse(text, filename=str(path))
            direct, modules = _prometheus_names(tree)
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                kind = None
                if isinstance(func, ast.Name) and func.id in direct:
                    kind = direct[func.id]
                elif (isinstance(func, ast.Attribute) and func.attr in METRIC_TYPES
                      and isinstance(func.value, ast.Name) and func.value.id in modules):
                    kind = func.attr
                if kind is None:
                    continue
                name_node = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "name"), None)
                if isinstance(name_node, ast.Constant) and isinstance(name_node.value, str):
                    yield kind, name_node.value, path


def _series(kind: str, name: str) -> set[str]:
    """The series names Prometheus stores for one prometheus_client metric."""
    if kind == "Counter":
        base = name.removesuffix("_total")
        return {f"{base}_total", f"{base}_created"}
    if kind == "Histogram":
        return {f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"}
    if kind == "Summary":
        return {name, f"{name}_sum", f"{name}_count", f"{name}_created"}
    if kind == "Info":
        return {f"{name}_info"}
    return {name}


@pytest.fixture(scope="module")
def exported() -> dict[str, str]:
    """Series name -> the metric declaration it comes from."""
    series: dict[str, str] = {}
    for kind, name, path in _declared_metrics():
        for s in _series(kind, name):
            series[s] = f"{kind}({name!r}) in {path.relative_to(ROOT)}"
    assert series, "found no prometheus_client metrics in the packages"
    return series


# --- what the dashboards query --------------------------------------------------------


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, keywords, labels and durations removed)."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)  # string literals
    e = re.sub(r"\$\{[^}]*\}|\$\w+", " ", e)                    # Grafana variables
    e = re.sub(r"\{[^}]*\}", " ", e)                           # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)                          # ranges and subqueries
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\boffset\s+-?\w+", " ", e)
    e = re.sub(r"(?<![\w.])\d+(?:\.\d*)?(?:[eE][+-]?\d+)?", " ", e)  # numbers
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        word = m.group()
        if word.lower() in PROMQL_WORDS or e[m.end():].lstrip().startswith("("):
            continue  # a keyword, or a function / aggregation
        names.add(word)
    return names


def label_matchers(expr: str) -> list[tuple[str, str]]:
    return re.findall(r'(\w+)\s*=~?\s*"([^"]*)"', "".join(re.findall(r"\{[^}]*\}", expr)))


def _walk_panels(panels: list[dict]) -> Iterator[dict]:
    for panel in panels:
        yield panel
        yield from _walk_panels(panel.get("panels") or [])


def _dashboards() -> list[Path]:
    return sorted(DASHBOARDS.glob("*.json"))


def _queries(dashboard: dict) -> Iterator[tuple[str, dict, dict]]:
    """(panel title, panel, target) for every query target."""
    for panel in _walk_panels(dashboard.get("panels") or []):
        for target in panel.get("targets") or []:
            yield panel.get("title", "?"), panel, target


@pytest.fixture(scope="module")
def datasource() -> dict:
    files = sorted(DATASOURCES.glob("*.y*ml"))
    assert files, "no Grafana datasource provisioning file"
    sources = [ds for f in files for ds in yaml.safe_load(f.read_text()).get("datasources") or []]
    prometheus = [ds for ds in sources if ds.get("type") == "prometheus"]
    assert len(prometheus) == 1, "exactly one Prometheus datasource is provisioned"
    return prometheus[0]


def test_the_parser_finds_metric_names() -> None:
    expr = ('histogram_quantile(0.99, sum by (le) (rate(a_seconds_bucket{job="x", le!="1"}[$__rate_interval])))'
            " / clamp_min(sum without (instance) (b_total offset 5m), 1e-9) + on (k) group_left c:rule")
    assert metric_names(expr) == {"a_seconds_bucket", "b_total", "c:rule"}
    assert metric_names('sum(up{job="omnitrack-worker"} == 1)') == {"up"}


def test_dashboards_exist_and_parse() -> None:
    files = _dashboards()
    assert files, "no dashboard JSON in deploy/grafana/dashboards"
    uids = set()
    for path in files:
        dashboard = json.loads(path.read_text())
        assert dashboard.get("title") and dashboard.get("uid"), f"{path.name}: a dashboard needs a title and a uid"
        assert dashboard["uid"] not in uids
        uids.add(dashboard["uid"])
        assert any(True for _ in _queries(dashboard)), f"{path.name} has no queries"
        ids = [p["id"] for p in _walk_panels(dashboard["panels"])]
        assert len(ids) == len(set(ids)), f"{path.name}: panel ids repeat"


@pytest.mark.parametrize("path", _dashboards(), ids=lambda p: p.name)
def test_every_query_uses_exported_metrics(path: Path, exported: dict[str, str]) -> None:
    dashboard = json.loads(path.read_text())
    unknown = []
    for title, _panel, target in _queries(dashboard):
        expr = target.get("expr", "")
        assert expr.strip(), f"{path.name}: panel {title!r} has an empty query"
        names = metric_names(expr)
        assert names, f"{path.name}: panel {title!r} selects no metric: {expr}"
        unknown += [f"{title!r}: {n}" for n in sorted(names - exported.keys() - PROMETHEUS_SERIES)]
    assert not unknown, f"{path.name} queries metrics the code does not export: {unknown}"


@pytest.mark.parametrize("path", _dashboards(), ids=lambda p: p.name)
def test_job_labels_are_prometheus_jobs(path: Path) -> None:
    jobs = {job["job_name"] for job in yaml.safe_load(PROMETHEUS_FILE.read_text())["scrape_configs"]}
    for title, _panel, target in _queries(json.loads(path.read_text())):
        for label, value in label_matchers(target.get("expr", "")):
            if label == "job":
                assert value in jobs or any(re.fullmatch(value, j) for j in jobs), \
                    f"panel {title!r} selects job {value!r}; prometheus.yml has {sorted(jobs)}"


@pytest.mark.parametrize("path", _dashboards(), ids=lambda p: p.name)
def test_panels_use_the_provisioned_datasource(path: Path, datasource: dict) -> None:
    for title, panel, target in _queries(json.loads(path.read_text())):
        for ref in (panel.get("datasource"), target.get("datasource")):
            if ref is None:
                continue  # the default datasource
            uid = ref.get("uid") if isinstance(ref, dict) else ref
            assert uid in (datasource.get("uid"), datasource.get("name")), \
                f"panel {title!r} uses datasource {uid!r}, provisioned is {datasource.get('uid')!r}"


def test_datasource_points_at_the_prometheus_service(datasource: dict) -> None:
    services = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    m = re.fullmatch(r"http://([\w.-]+):(\d+)/?", datasource["url"])
    assert m, f"datasource url {datasource['url']!r} is not http://SERVICE:PORT"
    host, port = m.group(1), int(m.group(2))
    assert host == "prometheus" and host in services, f"the datasource points at {host}, not the prometheus service"
    assert services[host]["image"].startswith("prom/prometheus")
    listen = next((a.split("=", 1)[1] for a in services[host].get("command") or []
                   if str(a).startswith("--web.listen-address=")), ":9090")
    assert port == int(listen.rsplit(":", 1)[1]), f"Prometheus listens on {listen}, the datasource uses {port}"
    assert datasource.get("access", "proxy") == "proxy", "the browser cannot resolve compose names: use proxy access"


OVERVIEW_FAMILIES = (
    "omnitrack_bridge_readings",                 # ingest rate
    "omnitrack_bridge_rejected",                 # rejects by reason
    "omnitrack_bridge_produce_latency_seconds",  # bridge produce latency p50/p99
    "omnitrack_twin_readings",                   # readings applied by outcome
    "omnitrack_twin_apply_latency_seconds",      # twin apply latency
    "omnitrack_twin_devices",                    # devices
    "omnitrack_twin_changes",                    # twin changes
)


def test_the_dashboard_covers_the_engine() -> None:
    """The overview shows ingest, rejects, produce latency, twin outcomes, apply latency, devices and changes."""
    queried = {n for path in _dashboards() for _t, _p, target in _queries(json.loads(path.read_text()))
               for n in metric_names(target.get("expr", ""))}
    shown = {re.sub(r"_(total|bucket|sum|count|created)$", "", s) for s in queried}
    missing = [f for f in OVERVIEW_FAMILIES if f not in shown]
    assert not missing, f"metric families on no dashboard panel: {missing}"
    for quantile in ("0.5", "0.99"):
        for family in ("omnitrack_bridge_produce_latency_seconds", "omnitrack_twin_apply_latency_seconds"):
            assert any(re.search(rf"histogram_quantile\(\s*{re.escape(quantile)}\s*,.*{family}_bucket", target.get("expr", ""))
                       for path in _dashboards() for _t, _p, target in _queries(json.loads(path.read_text()))), \
                f"no p{quantile} panel query for {family}"
