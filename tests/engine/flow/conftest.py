"""Fixtures of the flow-kernel tests: the example network with its sourcing data."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.flow import FlowNetwork
from engine.flow.twin import flow_from_twin

EXAMPLE = Path(__file__).resolve().parents[3] / "simulators" / "networks" / "example_network.json"


@pytest.fixture(scope="session")
def example_dict() -> dict:
    return json.loads(EXAMPLE.read_text())


@pytest.fixture(scope="session")
def example_flow(example_dict: dict) -> FlowNetwork:
    return flow_from_twin(example_dict)
