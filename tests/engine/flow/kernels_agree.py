"""How closely the numba kernel must agree with the float64 references, trial by trial.

Why a tolerance and not equality: the numba kernel keeps the trials' state in
float32 (engine/flow/kernel_steps.py ``FLOAT``), the numpy reference and the
Python oracle in float64. The same operations in the same order then differ by
float32 rounding, a few parts in 10^6 of a trial's loss; an indexing or
ordering slip moves a trial by far more. Counts (stock-out days, the day of the
last shortfall) must agree exactly.
"""

from __future__ import annotations

import numpy as np

from engine.flow.kernel_steps import AGREEMENT_RTOL as F32_RTOL

COUNTS = ("stockout_days", "ttr", "customer_stockout_days")


def assert_agree(fast, ref, fields, trials: int | None = None) -> None:
    """``fast`` (numba results) against ``ref`` (numpy or Python), on ``ref``'s first ``trials`` trials."""
    for f in fields:
        x, y = getattr(fast, f), getattr(ref, f)
        if trials is not None:
            x = x[:, :trials]
        if f in COUNTS:
            np.testing.assert_array_equal(x, y, err_msg=f)
        else:
            # float32 rounds relative to the quantities' scale: a trial of small loss may differ by a few
            # millionths of the largest trial's loss
            scale = float(np.max(np.abs(y), initial=0.0))
            np.testing.assert_allclose(x, y, rtol=F32_RTOL, atol=F32_RTOL * scale + 1e-9, err_msg=f)
