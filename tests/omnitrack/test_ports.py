"""omnitrack/ports.py: a free block inside the range asked for, the settings' by default."""

from __future__ import annotations

import socket

import pytest

from omnitrack.ports import free_port_block


def test_block_is_free_and_inside_the_range_asked_for() -> None:
    for _ in range(20):
        base = free_port_block((0, 1, 50), within=(24000, 24100))
        assert 24000 <= base and base + 50 < 24100
        with socket.socket() as s:
            s.bind(("127.0.0.1", base + 50))


def test_settings_range_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNITRACK_FREE_PORTS_LOW", "25000")
    monkeypatch.setenv("OMNITRACK_FREE_PORTS_HIGH", "25010")
    assert all(25000 <= free_port_block((0, 1)) < 25009 for _ in range(20))


def test_a_range_too_small_is_an_error() -> None:
    with pytest.raises(ValueError, match="no room"):
        free_port_block((0, 100), within=(26000, 26050))
