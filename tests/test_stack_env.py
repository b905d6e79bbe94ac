"""tests/stack_env.py: each checkout's test stack has its own folder and ports, inside the range it promises."""

from __future__ import annotations

from pathlib import Path

from tests.stack_env import stack_env

LIFECYCLE_PORTS = {19092, 19093, 11883, 18883, 14566}  # tests/omnitrack/test_stack_lifecycle.py's private stack


def test_checkouts_get_their_own_ports_in_range() -> None:
    envs = [stack_env(Path(f"/tmp/clone-{i}")) for i in range(200)]
    bases = {int(e["OMNITRACK_KAFKA_PORT"]) for e in envs}
    assert len(bases) > 150  # 200 checkouts over 500 blocks: few share one
    for e in envs:
        ports = [int(v) for k, v in e.items() if k.endswith("_PORT")]
        assert len(set(ports)) == 5 and all(12000 <= p < 17000 for p in ports)
        assert not set(ports) & LIFECYCLE_PORTS
        assert e["OMNITRACK_STACK_DIR"].endswith("/.omnitrack/test-stack")
    assert stack_env(Path("/tmp/clone-1")) == envs[1]  # the same checkout: always the same stack
