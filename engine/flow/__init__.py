"""Quantity-flow Monte Carlo kernel: daily units over lanes, with capacities, shares, bills of
materials, stock with reorder behaviour, rerouting to backups, and correlated disruptions.

Typical use::

    net = flow_network(nodes, lanes)                      # or example_flow_network()
    res = simulate_flow(net, FlowDisruption((outage("node", "AS-FAC-001", 21),)),
                        n_trials=10_000, seed=1, variants=[BASELINE, FlowVariant(...)])
    summarize_flow(res)

Model: docs/decisions.md ("Flow model"); kernel: :mod:`.kernel_numba`, with a
numpy reference and a pure-Python oracle computing the same numbers from the
same random draws. Only the part of the network the disruption can reach is
simulated (:mod:`.inputs`). The outage-interval kernel stays in
:mod:`engine.montecarlo`. Plain numpy/numba: no faust, no stream imports.
"""

from .api import (BACKENDS, FlowResults, loss_difference, run_flow, simulate_flow, stack_results,
                  summarize_flow)
from .events import Event, FlowDisruption, background, outage, port_closure, regional_event
from .inputs import DEFAULT_HORIZON_DAYS, FlowInputs, prepare_flow, reachable
from .network import KINDS, FlowNetwork, flow_network
from .variants import BASELINE, FlowVariant
from .warmup import compile_flow_kernels

__all__ = [
    "BACKENDS", "FlowResults", "loss_difference", "run_flow", "simulate_flow", "stack_results", "summarize_flow",
    "Event", "FlowDisruption",
    "background", "outage", "port_closure", "regional_event", "DEFAULT_HORIZON_DAYS", "FlowInputs",
    "prepare_flow", "reachable", "KINDS", "FlowNetwork", "flow_network", "BASELINE", "FlowVariant",
    "compile_flow_kernels",
]
