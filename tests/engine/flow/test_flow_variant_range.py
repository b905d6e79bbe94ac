"""Running a packing's variants in two parts (do nothing in Impact, the candidates in Strategy) gives the
same numbers as one run of all of them, so the pipeline simulates do nothing once per request and still
pairs every candidate with it on common random numbers."""

from __future__ import annotations

import numpy as np
import pytest

from engine.flow import BASELINE, prepare_flow, run_flow, stack_results
from engine.flow.strategies import evaluate, flow_candidates, scope

from kernels_agree import assert_agree
from test_flow_agreement import FIELDS, _everything


def test_variant_ranges_equal_the_whole_run(example_flow) -> None:
    dis, bg, variants = _everything(example_flow)
    inp = prepare_flow(example_flow, dis, variants, 90, background=bg)
    whole = run_flow(inp, n_trials=150, seed=11, store_customers=True)       # 150: a partial batch too
    first = run_flow(inp, n_trials=150, seed=11, store_customers=True, variants=(0, 1))
    rest = run_flow(inp, n_trials=150, seed=11, store_customers=True, variants=(1, inp.n_variants))
    both = stack_results(first, rest)
    assert both.variant_names == whole.variant_names and first.loss.shape == (1, 150)
    assert whole.loss.max() > 0 and not np.array_equal(whole.loss[0], whole.loss[2])
    for f in FIELDS:
        np.testing.assert_array_equal(getattr(both, f), getattr(whole, f), err_msg=f)
    mid = run_flow(inp, n_trials=150, seed=11, variants=(2, 3))
    np.testing.assert_array_equal(mid.loss[0], whole.loss[2])
    assert_agree(mid, run_flow(inp, n_trials=150, seed=11, variants=(2, 3), backend="numpy"), FIELDS[:5])
    for bad in ((1, 1), (0, inp.n_variants + 1), (-1, 2)):
        with pytest.raises(ValueError):
            run_flow(inp, n_trials=8, seed=11, variants=bad)
    with pytest.raises(ValueError):
        stack_results(first, run_flow(inp, n_trials=150, seed=12, variants=(1, inp.n_variants)))


def test_evaluation_on_impacts_baseline_equals_one_call(example_flow) -> None:
    dis, bg, _ = _everything(example_flow)
    cands = flow_candidates(example_flow, scope(example_flow, ["AS-FAC-003"], []), 21.0, 90, 8)
    one = evaluate(example_flow, dis, cands, n_trials=300, seed=3, background=bg)
    inp = prepare_flow(example_flow, dis, [BASELINE, *(c.variant for c in cands)], 90, background=bg)
    base = run_flow(inp, n_trials=300, seed=3, variants=(0, 1))
    two = evaluate(example_flow, dis, cands, n_trials=300, seed=3, background=bg, inputs=inp, baseline=base)
    np.testing.assert_array_equal(one.loss, two.loss)
    assert [r["loss_reduction"] for r in one.rows] == [r["loss_reduction"] for r in two.rows]
    with pytest.raises(ValueError):      # a baseline of other trials cannot be paired
        evaluate(example_flow, dis, cands, n_trials=300, seed=4, background=bg, inputs=inp, baseline=base)
