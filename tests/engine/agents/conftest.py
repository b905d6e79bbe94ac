"""Fixtures of the decision-pipeline tests: the example network, compiled kernels."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin.network import SupplyNetwork

EXAMPLE = Path(__file__).resolve().parents[3] / "simulators" / "networks" / "example_network.json"
# A factory whose outage reaches customers under the primary-lane kernel view
# and which has backups, buffers and a sibling: every candidate kind applies.
FACTORY = "NA-FAC-004"


@pytest.fixture(scope="session")
def network() -> SupplyNetwork:
    return SupplyNetwork.from_dict(json.loads(EXAMPLE.read_text()))


@pytest.fixture(scope="session", autouse=True)
def _compiled() -> None:
    from engine.pipeline import warm_start
    warm_start()
