"""`omnitrack bench notify_drain` on the real stack, small: both storms drain through a real notifier process."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.integration


def test_both_storms_are_delivered_and_reported(stack_endpoints, capsys) -> None:  # noqa: ANN001
    from bench import notify_drain

    assert notify_drain.main(["--json", "-n", "60", "--rtt-ms", "5"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["bench"] == "notify_drain" and out["alerts"] == 60 and out["round_default_size"] == 100
    for mode in ("round_10", "round_default"):
        assert out[mode]["failed"] == 0 and out[mode]["alerts_per_s"] > 0, out
    assert out["speedup"] == pytest.approx(out["round_default"]["alerts_per_s"] / out["round_10"]["alerts_per_s"],
                                           rel=0.02)
