"""deploy/prometheus/rules.yml: alerts on the engine itself, over metrics the code exports, loaded by the
Prometheus of docker-compose.yml."""

from __future__ import annotations

import re

import pytest
import yaml

from tests.deploy.test_dashboards import (COMPOSE_FILE, PROMETHEUS_FILE, PROMETHEUS_SERIES, ROOT,  # noqa: F401
                                          exported, label_matchers, metric_names)

RULES_FILE = ROOT / "deploy" / "prometheus" / "rules.yml"
MOUNTED_AT = "/etc/prometheus/rules.yml"


@pytest.fixture(scope="module")
def rules() -> list[dict]:
    groups = yaml.safe_load(RULES_FILE.read_text())["groups"]
    found = [rule for group in groups for rule in group["rules"]]
    assert found, "rules.yml has no rules"
    return found


def test_every_rule_is_complete(rules: list[dict]) -> None:
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names)), "alert names repeat"
    for rule in rules:
        assert re.fullmatch(r"OmniTrack[A-Z][A-Za-z]+", rule["alert"]), rule["alert"]
        assert rule["expr"].strip() and rule["labels"]["severity"] in {"critical", "warning", "info"}, rule
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]
        assert "for" not in rule or re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]


def test_every_rule_uses_exported_metrics(rules: list[dict], exported: dict[str, str]) -> None:  # noqa: F811
    unknown = {r["alert"]: sorted(metric_names(r["expr"]) - exported.keys() - PROMETHEUS_SERIES) for r in rules}
    assert not any(unknown.values()), f"rules on metrics the code does not export: {unknown}"
    assert all(metric_names(r["expr"]) for r in rules)


def test_job_matchers_name_scraped_jobs(rules: list[dict]) -> None:
    jobs = {job["job_name"] for job in yaml.safe_load(PROMETHEUS_FILE.read_text())["scrape_configs"]}
    for rule in rules:
        for label, value in label_matchers(rule["expr"]):
            if label == "job":
                assert any(re.fullmatch(value, j) for j in jobs), (rule["alert"], value)


def test_prometheus_loads_the_rules_and_compose_mounts_them() -> None:
    assert MOUNTED_AT in yaml.safe_load(PROMETHEUS_FILE.read_text())["rule_files"]
    prometheus = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["prometheus"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in prometheus["volumes"] if v.startswith("./")}
    assert mounts.get("./deploy/prometheus/rules.yml") == MOUNTED_AT
