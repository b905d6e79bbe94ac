"""The committed example network is valid, realistic in size, and reproducible."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from simulators.networks.generate import DEFAULT_OUT, DEFAULT_SEED, dumps, generate
from twin.network import NodeKind, SupplyNetwork
from twin.telemetry import ID_PATTERN, device_topic

FILE = Path(DEFAULT_OUT)


@pytest.fixture(scope="module")
def net() -> SupplyNetwork:
    return SupplyNetwork.from_dict(json.loads(FILE.read_text(encoding="utf-8")))


def test_committed_file_is_reproducible() -> None:
    """Regenerate with: python -m simulators.networks.generate"""
    assert FILE.read_text(encoding="utf-8") == dumps(generate(DEFAULT_SEED))


def test_size_and_spread(net: SupplyNetwork) -> None:
    assert FILE.stat().st_size < 1_000_000
    assert len(net.nodes) >= 200
    assert {"Asia", "Europe", "North America", "South America"} <= {n.region for n in net.nodes}
    assert set(Counter(n.kind for n in net.nodes)) == set(NodeKind)
    per_node = Counter(d.node_id for d in net.devices if d.node_id)
    assert set(per_node) == {n.id for n in net.nodes}
    assert all(2 <= c <= 6 for c in per_node.values())
    assert any(d.lane_id for d in net.devices if d.kind.value == "gps_tracker")


def test_every_customer_is_supplied_and_every_supplier_reaches_a_customer(net: SupplyNetwork) -> None:
    for n in net.nodes:
        if n.kind is NodeKind.customer:
            assert net.upstream_suppliers(n.id), n.id
        if n.kind is NodeKind.supplier:
            assert net.downstream_customers(n.id), n.id


def test_ids_are_topic_safe(net: SupplyNetwork) -> None:
    pattern = re.compile(ID_PATTERN)
    for d in net.devices:
        assert pattern.match(d.id)
        device_topic(d.site_id, d.id)


def test_other_seed_differs_but_is_valid() -> None:
    other = generate(DEFAULT_SEED + 1)
    assert other != generate(DEFAULT_SEED)
    SupplyNetwork.from_dict(other)
