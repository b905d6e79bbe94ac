"""Collections of a worker process are timed into `omnitrack_gc_pause_seconds`."""

from __future__ import annotations

import gc

from prometheus_client import REGISTRY

from streams.gc_metrics import observe_gc_pauses


def _count() -> float:
    return sum(REGISTRY.get_sample_value("omnitrack_gc_pause_seconds_count", {"generation": g}) or 0.0
               for g in ("0", "1", "2"))


def test_every_collection_is_timed_once_even_if_registered_twice() -> None:
    observe_gc_pauses()
    observe_gc_pauses()
    gc.disable()  # no automatic collection (another thread allocating) between the two counts
    try:
        before = _count()
        gc.collect()
        after = _count()
    finally:
        gc.enable()
    assert after == before + 1
    assert (REGISTRY.get_sample_value("omnitrack_gc_pause_seconds_sum", {"generation": "2"}) or 0.0) > 0.0
