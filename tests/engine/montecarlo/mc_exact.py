"""Closed-form expectations for small networks (scipy-free numeric integration).

Kept out of the kernels on purpose: these formulas are derived independently
from the model description, so agreement tests the implementation.
"""

from __future__ import annotations

import math

import numpy as np

# Simpson panels: error ~1e-10 relative for these smooth integrands, far below
# Monte Carlo noise, so a failed containment is the kernel's fault, not ours.
PANELS = 20_000


def lognormal_sf(x: np.ndarray, mu: float, sigma: float) -> np.ndarray:
    """P(D > x) for D ~ LogNormal(mu, sigma); 1 for x <= 0."""
    x = np.asarray(x, dtype=np.float64)
    out = np.ones_like(x)
    pos = x > 0
    z = (np.log(x[pos]) - mu) / (sigma * math.sqrt(2.0))
    out[pos] = 0.5 * np.array([math.erfc(v) for v in z])
    return out


def simpson(f, a: float, b: float, panels: int = PANELS) -> float:
    if b <= a:
        return 0.0
    x = np.linspace(a, b, panels + 1)
    y = f(x)
    h = (b - a) / panels
    return float(h / 3.0 * (y[0] + y[-1] + 4.0 * y[1:-1:2].sum() + 2.0 * y[2:-1:2].sum()))


def single_node_stockout(p: float, mu: float, sigma: float, horizon: float) -> float:
    """Own outage, start ~ U(0, H): E[min(D, H - a)] = (1/H) int_0^H (H - x) S(x) dx."""
    return p / horizon * simpson(lambda x: (horizon - x) * lognormal_sf(x, mu, sigma), 0.0, horizon)


def series_chain_stockout(p: float, mu: float, sigma: float, horizon: float, lead: float, cover: float) -> float:
    """Source outage U(0, H) start, total lead L, total downstream cover C:
    stock-out = (min(D, H - a - L) - C)+  =>  (p/H) int_C^{H-L} (H - L - x) S(x) dx."""
    return p / horizon * simpson(lambda x: (horizon - lead - x) * lognormal_sf(x, mu, sigma),
                                 cover, horizon - lead)


def parallel_pair_stockout(p1: float, p2: float, mu1: float, s1: float, mu2: float, s2: float,
                           horizon: float, lead: float, cover: float) -> float:
    """Two alternative suppliers, both outages starting at day 0: the gap is
    min(D1, D2), so E = p1 p2 int_C^{H-L} S1(x) S2(x) dx."""
    return p1 * p2 * simpson(lambda x: lognormal_sf(x, mu1, s1) * lognormal_sf(x, mu2, s2), cover, horizon - lead)


def lane_outage_stockout(p: float, mu: float, sigma: float, horizon: float, lead: float, cover: float) -> float:
    """Lane outage at day 0 strands goods in transit: gap [0, D + lead), so
    E = p int_C^H P(D + lead > x) dx."""
    return p * simpson(lambda x: lognormal_sf(x - lead, mu, sigma), cover, horizon)
