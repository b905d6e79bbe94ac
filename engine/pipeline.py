"""Decision pipeline: Info || Scenario -> Impact -> Strategy -> Negotiation, as a state machine.

Why a state machine with per-stage timeouts: the Faust agent awaits this for
every alert; a stage that raises or hangs must produce a result (status
``failed`` / ``timeout`` with a reason) that the agent can publish, never a
stuck consumer. CPU-bound stages run in a thread executor so that
``asyncio.wait_for`` can give up on them (the thread itself cannot be killed:
a hung stage keeps one executor thread until it returns, which is why the
executor has several).

Stage functions are injected (:class:`Stages`), so tests and operators can
force a stage to fail or hang, and the lead can swap an implementation
without touching the orchestration.

Public use (from the worker)::

    pipeline = DecisionPipeline(network, twin_view, priors=priors_from_table)
    warm_start()                                   # once, at worker start
    result = await pipeline.run(request_dict)      # ScenarioResult, never raises
    priors = pipeline.apply_feedback(feedback)     # new version; store priors.model_dump_json()
"""

from __future__ import annotations

import asyncio
import enum
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from pydantic import ValidationError

from engine.agents.impact import ImpactOutput, build_kernel_view, run_impact
from engine.agents.info import Snapshot, StaticTwinView, TwinView, take_snapshot
from engine.agents.learning import apply_feedback, default_priors
from engine.agents.negotiation import METHOD, negotiate
from engine.agents.scenario import ScenarioSpec, build_scenario
from engine.agents.strategy import MAX_CANDIDATES, StrategyOutput, run_strategy
from engine.models import Feedback, Priors, ScenarioRequest, ScenarioResult, StrategyOutcome
from twin.network import SupplyNetwork

STAGES = ("info", "scenario", "impact", "strategy", "negotiation")
# Per-stage timeouts (s). Info/Scenario are dict work (ms); Impact/Strategy
# can legitimately take tens of seconds at 2M trials; anything beyond is a hang.
DEFAULT_TIMEOUTS_S: dict[str, float] = {"info": 10.0, "scenario": 10.0, "impact": 120.0, "strategy": 120.0,
                                        "negotiation": 10.0}
# Retries after an exception (not after a timeout: a hung stage retried would
# multiply the wait). Info reads the live twin, where transient errors happen.
DEFAULT_RETRIES: dict[str, int] = {"info": 2, "scenario": 1, "impact": 1, "strategy": 1, "negotiation": 0}
# Pause before retry n is n x this: lets a transient twin error clear without
# adding noticeable latency.
RETRY_BACKOFF_S = 0.05
# Executor threads: two parallel stages plus headroom for stages abandoned
# after a timeout (their threads stay busy until they return).
EXECUTOR_THREADS = 4


class PipelineError(RuntimeError):
    """Base class of the pipeline's own errors."""


class RequestInvalid(PipelineError):
    """The request does not fit the network (unknown ids)."""


class StageFailed(PipelineError):
    def __init__(self, stage: str, cause: BaseException, attempts: int) -> None:
        super().__init__(f"stage {stage} failed after {attempts} attempt(s): {type(cause).__name__}: {cause}")
        self.stage = stage


class StageTimeout(PipelineError):
    def __init__(self, stage: str, timeout_s: float) -> None:
        super().__init__(f"stage {stage} did not finish within {timeout_s:g} s")
        self.stage = stage


class State(str, enum.Enum):
    """Pipeline states; ``TRANSITIONS`` lists the legal moves."""

    validating = "validating"
    gathering = "gathering"        # info || scenario
    assessing = "assessing"        # impact
    planning = "planning"          # strategy
    negotiating = "negotiating"
    done = "done"
    invalid = "invalid"
    failed = "failed"
    timeout = "timeout"


TERMINAL = {State.done, State.invalid, State.failed, State.timeout}
TRANSITIONS: dict[State, tuple[State, ...]] = {
    State.validating: (State.gathering, State.invalid),
    State.gathering: (State.assessing, State.failed, State.timeout),
    State.assessing: (State.planning, State.failed, State.timeout),
    State.planning: (State.negotiating, State.failed, State.timeout),
    State.negotiating: (State.done, State.failed, State.timeout),
}


@dataclass(frozen=True)
class StageContext:
    """What every stage may read; priors are the version current when the request started."""

    request: ScenarioRequest
    network: SupplyNetwork
    twin: TwinView
    priors: Priors
    max_candidates: int


NegotiationOut = tuple[list[StrategyOutcome], list[str], StrategyOutcome]


def _info(ctx: StageContext) -> Snapshot:
    return take_snapshot(ctx.network, ctx.twin, ctx.request.nodes, ctx.request.lanes)


def _scenario(ctx: StageContext) -> ScenarioSpec:
    return build_scenario(ctx.request, ctx.network, ctx.priors)


def _impact(ctx: StageContext, snap: Snapshot, spec: ScenarioSpec) -> ImpactOutput:
    return run_impact(build_kernel_view(ctx.network, snap, spec, ctx.request.horizon_days), ctx.request)


def _strategy(ctx: StageContext, spec: ScenarioSpec, impact: ImpactOutput) -> StrategyOutput:
    return run_strategy(ctx.network, spec, impact, ctx.request, ctx.max_candidates)


def _negotiation(ctx: StageContext, out: StrategyOutput) -> NegotiationOut:
    return negotiate(out, ctx.request)


def _flow_impact(ctx: StageContext, snap: Snapshot, spec: ScenarioSpec) -> Any:
    from engine.agents.flow_stages import run_flow_impact
    return run_flow_impact(ctx.network, snap, spec, ctx.request, ctx.max_candidates)


def _flow_strategy(ctx: StageContext, spec: ScenarioSpec, impact: Any) -> StrategyOutput:
    from engine.agents.flow_stages import run_flow_strategy
    return run_flow_strategy(spec, impact, ctx.request, ctx.max_candidates)


@dataclass(frozen=True)
class Stages:
    """The stage functions (synchronous; each runs in the executor). Replace one to test or extend."""

    info: Callable[[StageContext], Snapshot] = _info
    scenario: Callable[[StageContext], ScenarioSpec] = _scenario
    impact: Callable[[StageContext, Snapshot, ScenarioSpec], ImpactOutput] = _impact
    strategy: Callable[[StageContext, ScenarioSpec, ImpactOutput], StrategyOutput] = _strategy
    negotiation: Callable[[StageContext, StrategyOutput], NegotiationOut] = _negotiation


def stages_for(kernel: str) -> Stages:
    """The default stages of a kernel (``interval`` or ``flow``): what a caller that replaces one stage
    (fault injection) starts from, so the replacement does not silently switch the kernel back."""
    if kernel not in ("interval", "flow"):
        raise ValueError(f"kernel must be 'interval' or 'flow', got {kernel!r}")
    return Stages(impact=_flow_impact, strategy=_flow_strategy) if kernel == "flow" else Stages()


@dataclass(frozen=True)
class PipelineConfig:
    timeouts_s: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TIMEOUTS_S))
    retries: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_RETRIES))
    retry_backoff_s: float = RETRY_BACKOFF_S
    max_candidates: int = MAX_CANDIDATES
    # "interval" (engine.montecarlo, the default) or "flow" (engine.flow: quantities, sourcing shares,
    # capacities, BOM; slower, docs/decisions.md section 6). Ignored when stages are injected.
    kernel: str = "interval"


def validate_request(raw: ScenarioRequest | Mapping[str, Any] | str | bytes, network: SupplyNetwork) -> ScenarioRequest:
    """Parse and check the request against the network; raises ValidationError / RequestInvalid."""
    if isinstance(raw, ScenarioRequest):
        req = raw
    elif isinstance(raw, (str, bytes)):
        req = ScenarioRequest.model_validate_json(raw)
    else:
        req = ScenarioRequest.model_validate(raw)
    bad_nodes = [n for n in req.nodes if n not in network.node_by_id]
    bad_lanes = [ln for ln in req.lanes if ln not in network.lane_by_id]
    problems = []
    if bad_nodes:
        problems.append(f"unknown node(s): {', '.join(bad_nodes[:10])}")
    if bad_lanes:
        problems.append(f"unknown lane(s): {', '.join(bad_lanes[:10])}")
    if problems:
        raise RequestInvalid("; ".join(problems))
    return req


def _validation_reason(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'request'}: {e['msg']}" for e in exc.errors()[:10])


class DecisionPipeline:
    """Runs requests through the stages; holds the current priors (updated by feedback)."""

    def __init__(self, network: SupplyNetwork, twin: TwinView | None = None, *, priors: Priors | None = None,
                 stages: Stages | None = None, config: PipelineConfig | None = None) -> None:
        self.network = network
        self.twin: TwinView = twin if twin is not None else StaticTwinView(network)
        self.priors: Priors = priors if priors is not None else default_priors(network)
        self.config = config or PipelineConfig()
        if self.config.kernel not in ("interval", "flow"):
            raise ValueError(f"kernel must be 'interval' or 'flow', got {self.config.kernel!r}")
        self.stages = stages or stages_for(self.config.kernel)
        self._executor = ThreadPoolExecutor(max_workers=EXECUTOR_THREADS, thread_name_prefix="decision")

    def close(self) -> None:
        """Release the executor without waiting for abandoned (timed-out) stages."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def apply_feedback(self, feedback: Feedback | Mapping[str, Any]) -> Priors:
        """Update the priors (pure rule in :mod:`engine.agents.learning`); later requests use them."""
        fb = feedback if isinstance(feedback, Feedback) else Feedback.model_validate(feedback)
        self.priors = apply_feedback(self.priors, fb, self.network)
        return self.priors

    async def _stage(self, name: str, fn: Callable[..., Any], *args: Any, durations: dict[str, float]) -> Any:
        """One stage with timeout and bounded retries; records its wall time (all attempts)."""
        loop = asyncio.get_running_loop()
        timeout = float(self.config.timeouts_s.get(name, DEFAULT_TIMEOUTS_S[name]))
        retries = int(self.config.retries.get(name, 0))
        t0 = time.perf_counter()
        try:
            for attempt in range(retries + 1):
                try:
                    return await asyncio.wait_for(loop.run_in_executor(self._executor, fn, *args), timeout)
                except asyncio.TimeoutError:
                    raise StageTimeout(name, timeout) from None
                except Exception as exc:   # noqa: BLE001 - any stage error becomes a result
                    if attempt == retries:
                        raise StageFailed(name, exc, attempt + 1) from exc
                    await asyncio.sleep(self.config.retry_backoff_s * (attempt + 1))
        finally:
            durations[name] = round(time.perf_counter() - t0, 6)
        raise AssertionError("unreachable")

    async def run(self, raw: ScenarioRequest | Mapping[str, Any] | str | bytes) -> ScenarioResult:
        """Assess one request; always returns a :class:`ScenarioResult` (never raises for bad input or stages)."""
        durations: dict[str, float] = {}
        state = State.validating
        rid = _request_id(raw)
        priors = self.priors
        t0 = time.perf_counter()
        try:
            req = validate_request(raw, self.network)
        except ValidationError as exc:
            return ScenarioResult(request_id=rid, status="invalid", reason=_validation_reason(exc),
                                  failed_stage="validate", priors_version=priors.version)
        except RequestInvalid as exc:
            return ScenarioResult(request_id=rid, status="invalid", reason=str(exc), failed_stage="validate",
                                  priors_version=priors.version)
        finally:
            durations["validate"] = round(time.perf_counter() - t0, 6)
        ctx = StageContext(req, self.network, self.twin, priors, self.config.max_candidates)
        st = self.stages
        impact = None
        try:
            state = _move(state, State.gathering)
            snap, spec = await asyncio.gather(self._stage("info", st.info, ctx, durations=durations),
                                              self._stage("scenario", st.scenario, ctx, durations=durations))
            state = _move(state, State.assessing)
            impact = await self._stage("impact", st.impact, ctx, snap, spec, durations=durations)
            state = _move(state, State.planning)
            strat = await self._stage("strategy", st.strategy, ctx, spec, impact, durations=durations)
            state = _move(state, State.negotiating)
            top, front, base = await self._stage("negotiation", st.negotiation, ctx, strat, durations=durations)
            state = _move(state, State.done)
        except (StageFailed, StageTimeout) as exc:
            status = "timeout" if isinstance(exc, StageTimeout) else "failed"
            _move(state, State(status))
            return ScenarioResult(request_id=req.request_id, status=status, reason=str(exc), failed_stage=exc.stage,
                                  stage_durations_s=durations, impact=impact.summary if impact else None,
                                  priors_version=priors.version)
        reason = "" if top else "no mitigation candidate applies: nothing downstream depends on the affected elements"
        return ScenarioResult(request_id=req.request_id, status="ok", reason=reason, stage_durations_s=durations,
                              impact=impact.summary, baseline=base, strategies=top, pareto_front=front,
                              candidates_evaluated=len(strat.outcomes), negotiation_method=METHOD,
                              priors_version=priors.version)


def _request_id(raw: Any) -> str:
    """Best-effort id for an invalid request's result (so the caller can correlate it)."""
    if isinstance(raw, ScenarioRequest):
        return raw.request_id
    try:
        d = json.loads(raw) if isinstance(raw, (str, bytes)) else dict(raw)
        return str(d.get("request_id") or "?")
    except (ValueError, TypeError, AttributeError):
        return "?"


def _move(current: State, nxt: State) -> State:
    """Guarded transition: an illegal move is a programming error, not a request outcome."""
    if nxt not in TRANSITIONS.get(current, ()):
        raise AssertionError(f"illegal pipeline transition {current.value} -> {nxt.value}")
    return nxt


def warm_start(flow: bool = False) -> float:
    """Compile (or load from cache) the numba kernels; call once at worker start. Returns seconds.
    ``flow``: also the flow kernel (for ``PipelineConfig(kernel="flow")``)."""
    from engine.montecarlo import compile_kernels
    seconds = compile_kernels()
    if flow:
        from engine.flow import compile_flow_kernels
        seconds += compile_flow_kernels()
    return seconds
