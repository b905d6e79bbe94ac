"""Read the supply network file (JSON or YAML) into the domain model."""

from __future__ import annotations

from pathlib import Path

import orjson
import yaml

from twin.network import SupplyNetwork


def load_network(path: Path) -> SupplyNetwork:
    """Parse and validate the network; errors name the file."""
    try:
        text = path.read_bytes()
        data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else orjson.loads(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read the network file {path}: {exc}") from exc
    return SupplyNetwork.from_dict(data)
