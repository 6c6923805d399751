"""The three-tier ROI model: measured Tier 1, Tier 2 process figures, Tier 3 money, and the cash flow.

    inputs = model_inputs(measurements, tasks=["t001", "t004"], extra=["t005"], horizon_years=3)
    result = evaluate(inputs, assumption_values(settings))       # point estimate, with lineage
    result.tier3["net_annual_benefit"].value, result.tier3["net_annual_benefit"].inputs

Conventions (also in the ROI report):
- Volumes are per month of production traffic: logged calls / days logged x 30.44 / logged share of traffic.
- LLM spend counts only calls with a known cost; calls to unpriced models are never valued.
- The SLM-first router sends every in-scope call to the specialist; the offload share is answered there,
  the rest is escalated to the LLM (LLM spend stays, and the specialist's latency is added). Until routing
  is calibrated, the offload share is an assumption capped at agreement / quality target (with a perfect
  confidence ranking, the most the specialist can keep while holding the target), and the kept answers
  agree with the LLM at the quality target (or at the measured agreement when that is higher).
- Serving: per specialist, whole instances at the engagement's hourly price, enough for the busiest hour
  of the logs at the target utilisation of the measured throughput, at least `min_instances_per_task`.
- Hours saved: assistant time saved per call x the share of it a person waits on; rework: differing answers
  x the share a person fixes x minutes per fix. Both valued at the loaded hourly rate.
- Cash flow: one-off costs at month 0; month m earns adoption(m) = min(1, m / ramp_months) of the variable
  benefit, pays the instances that load needs and the upkeep. Payback is interpolated within the month; NPV
  discounts month m by (1 + rate)^(m/12); ROI % = (net benefit over the horizon - one-off) / one-off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from fde_toolkit.roi.lineage import Tracked, as_float, ceil, combine, maximum, minimum, total

HOURS_PER_MONTH = 730.5  # 8,766 hours a year / 12
DAYS_PER_MONTH = 30.4375  # 365.25 / 12
PAYBACK_LIMIT_YEARS = 10  # payback later than this reads as "not within 10 years"


@dataclass
class TaskInputs:
    """One specialist task's inputs, each tracked to its measurement (or to the measured tasks it is assumed like)."""

    id: str
    calls: Tracked
    llm_cost: Tracked
    priced_calls: Tracked
    llm_latency_ms: Tracked
    volume_share: Tracked
    llm_error_rate: Tracked
    quality: Tracked
    slm_latency_ms: Tracked
    throughput: Tracked
    training_seconds: Tracked
    primary_metric: Tracked | None = None
    offload: Tracked | None = None  # measured by routing, else the routing_offload_share assumption
    kept_quality: Tracked | None = None
    latency_under_load_ms: Tracked | None = None  # measured by hardening, else latency x latency_under_load_factor
    throughput_under_load: Tracked | None = None
    assumed_like_measured: bool = False


@dataclass
class ModelInputs:
    tasks: list[TaskInputs]
    days: Tracked
    cases: Tracked
    known_cost: Tracked
    peak_factor: Tracked
    hourly_usd: Tracked
    cycle_minutes: Tracked | None
    horizon_months: int
    extra_tasks: int = 0  # tasks assumed like the measured ones (each costs additional_task_usd)


@dataclass
class Result:
    tier1: dict[str, dict[str, Tracked]]
    tier2: dict[str, Tracked]
    tier3: dict[str, Tracked]
    cash: dict[str, Any] = field(default_factory=dict)  # months, adoption, net, cumulative (numpy), inputs


def _m(measurements: dict[str, Any], mid: str) -> Tracked | None:
    rec = measurements.get(mid)
    if rec is None:
        return None
    value = rec["value"] if isinstance(rec, dict) else rec.value
    return Tracked(float(value), {mid})


def _mean(xs: list[Tracked]) -> Tracked:
    return total(xs) / len(xs)


def model_inputs(measurements: dict[str, Any], tasks: list[str], extra: list[str] | None = None,
                 horizon_years: int = 3) -> ModelInputs:
    """The model's inputs from measurement records (Measurement objects or roi.json's dicts)."""
    m = lambda mid: _m(measurements, mid)  # noqa: E731
    zero = Tracked(0.0)
    items: list[TaskInputs] = []
    for tid in tasks:
        items.append(TaskInputs(
            tid, m(f"{tid}.calls"), m(f"{tid}.llm_cost_usd") or zero, m(f"{tid}.priced_calls") or m(f"{tid}.calls"),
            m(f"{tid}.llm_latency_ms") or zero, m(f"{tid}.volume_share") or zero, m(f"{tid}.llm_error_rate") or zero,
            m(f"{tid}.quality"), m(f"{tid}.slm_latency_ms"), m(f"{tid}.throughput"),
            m(f"{tid}.training_seconds") or zero, m(f"{tid}.primary_metric"),
            m(f"{tid}.offload_share"), m(f"{tid}.kept_quality"), m(f"{tid}.slm_latency_under_load_ms"),
            m(f"{tid}.throughput_under_load")))
    if extra and items:
        like = {k: _mean([getattr(t, k) for t in items]) for k in ("quality", "slm_latency_ms", "throughput",
                                                                     "training_seconds")}
        for tid in extra:
            items.append(TaskInputs(
                tid, m(f"{tid}.calls"), m(f"{tid}.llm_cost_usd") or zero, m(f"{tid}.priced_calls") or m(f"{tid}.calls"),
                m(f"{tid}.llm_latency_ms") or zero, m(f"{tid}.volume_share") or zero,
                m(f"{tid}.llm_error_rate") or zero, like["quality"], like["slm_latency_ms"], like["throughput"],
                like["training_seconds"], assumed_like_measured=True))
    return ModelInputs(items, m("logs.days"), m("logs.cases"), m("logs.known_cost_usd") or zero,
                       m("logs.peak_factor") or Tracked(1.0), m("serving.hourly_usd"), m("logs.cycle_minutes"),
                       horizon_years * 12, extra_tasks=len(extra or []) if items else 0)


def assumption_values(assumptions: dict[str, Any], which: str = "likely",
                      overrides: dict[str, Any] | None = None) -> dict[str, Tracked]:
    """{name: Tracked(value, {name})} at the low, likely or high end; overrides win (floats or arrays)."""
    out = {}
    for name, a in assumptions.items():
        v = getattr(a, which) if not isinstance(a, dict) else a[which]
        out[name] = Tracked(v, {name})
    for name, v in (overrides or {}).items():
        out[name] = Tracked(v, {name})
    return out


# ----------------------------------------------------------------------------- money over time

def adoption(months: np.ndarray, ramp_months: Any) -> np.ndarray:
    """Share of in-scope calls on the specialists in month m (1-based): min(1, m / ramp_months)."""
    ramp = np.asarray(ramp_months, dtype=float)[..., None]
    return np.minimum(1.0, np.asarray(months, dtype=float) / np.maximum(ramp, 1e-9))


def financials(net: np.ndarray, one_off: Any, discount_rate: Any, horizon_months: int) -> dict[str, np.ndarray]:
    """Payback (months, inf when never), NPV and ROI % over the horizon, from monthly net cash flows.

    `net` has months on its last axis (month 1 first); one_off is paid at month 0."""
    net = np.asarray(net, dtype=float)
    one_off = np.asarray(one_off, dtype=float)
    o = one_off[..., None]
    cum = -o + np.cumsum(net, axis=-1)
    net = np.broadcast_to(net, cum.shape)
    one_off = np.broadcast_to(one_off, cum.shape[:-1])
    months = net.shape[-1]
    reached = cum >= 0
    idx = np.where(reached.any(axis=-1), reached.argmax(axis=-1), months)
    safe = np.minimum(idx, months - 1)
    prev = np.where(safe > 0, np.take_along_axis(cum, np.maximum(safe - 1, 0)[..., None], -1)[..., 0], -one_off)
    step = np.take_along_axis(net, safe[..., None], -1)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        payback = np.where(idx >= months, np.inf, safe + np.where(step > 0, -prev / step, 0.0))
    payback = np.where(one_off <= 0, 0.0, payback)
    h = min(horizon_months, months)
    disc = (1.0 + np.asarray(discount_rate, dtype=float)[..., None]) ** (np.arange(1, h + 1) / 12.0)
    npv = -one_off + (net[..., :h] / disc).sum(axis=-1)
    gain = net[..., :h].sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        roi_pct = np.where(one_off > 0, (gain - one_off) / one_off * 100.0, np.nan)
    return {"payback_months": payback, "npv": npv, "roi_pct": roi_pct, "cumulative": cum,
            "net_over_horizon": gain - one_off}


# ----------------------------------------------------------------------------- the tiers

def evaluate(inp: ModelInputs, a: dict[str, Tracked]) -> Result:
    """Tier 1 per task, Tier 2 per month, Tier 3 per year (full adoption) and the monthly cash flow."""
    scale = DAYS_PER_MONTH / inp.days / a["logged_share_of_traffic"]  # production months per logged period
    hourly = inp.hourly_usd
    crit, rate = a["critical_path_share"], a["loaded_hourly_rate_usd"]
    tier1: dict[str, dict[str, Tracked]] = {}
    parts: dict[str, dict[str, Tracked]] = {}
    for t in inp.tasks:
        calls = t.calls * scale
        spend = t.llm_cost * scale
        target = a["routing_quality_target"]
        offload = t.offload if t.offload is not None else minimum(a["routing_offload_share"], t.quality / target)
        quality = t.kept_quality if t.kept_quality is not None else maximum(t.quality, target)  # of the kept answers
        lat_slm = (t.latency_under_load_ms if t.latency_under_load_ms is not None
                   else t.slm_latency_ms * a["latency_under_load_factor"])
        tput = t.throughput_under_load if t.throughput_under_load is not None else t.throughput
        capacity = tput * 3600.0 * a["target_utilisation"]  # calls an instance takes in an hour at the target
        peak = calls / HOURS_PER_MONTH * inp.peak_factor  # calls in the busiest hour
        instances = maximum(a["min_instances_per_task"], ceil(peak / capacity))
        serving = instances * HOURS_PER_MONTH * hourly
        wait_s = (offload * (t.llm_latency_ms - lat_slm) - (1 - offload) * lat_slm) / 1000.0  # per call
        rework_h = calls * offload * (1 - quality) * a["rework_share"] * a["rework_minutes"] / 60.0
        cost_before = t.llm_cost / t.priced_calls
        cost_after = serving / calls + (1 - offload) * cost_before
        success_after = offload * quality + (1 - offload) * (1 - t.llm_error_rate)
        parts[t.id] = {"calls": calls, "spend": spend, "offload": offload, "quality": quality, "peak": peak,
                       "capacity": capacity, "serving": serving, "instances": instances, "wait_s": wait_s,
                       "rework_h": rework_h, "tput": tput,
                       "finetune_usd": t.training_seconds / 3600.0 * a["training_hourly_usd"]}
        row = {
            "quality": t.quality,
            "offload_share": offload,
            "calls_covered_share": t.volume_share * offload,
            "calls_per_month": calls,
            "latency_before_ms": t.llm_latency_ms,
            "latency_after_ms": lat_slm,
            "cost_per_call_before": cost_before,
            "cost_per_call_after": cost_after,
            "cost_per_success_before": cost_before / (1 - t.llm_error_rate),
            "cost_per_success_after": cost_after / success_after,
            "instances": instances,
            "utilisation": calls / HOURS_PER_MONTH / (instances * tput * 3600.0),
            "headroom": instances * tput * 3600.0 / peak,
        }
        row["net_contribution"] = (spend * offload - serving
                                   + (calls * wait_s * crit / 3600.0 - rework_h) * rate) * 12
        if t.primary_metric is not None:
            row["primary_metric"] = t.primary_metric
        tier1[t.id] = row

    cases = inp.cases * scale
    calls_all = total(p["calls"] for p in parts.values())
    slm_answers = total(p["calls"] * p["offload"] for p in parts.values())
    assistant_s = total(p["calls"] * p["wait_s"] for p in parts.values())  # assistant seconds saved per month
    hours_saved = assistant_s * crit / 3600.0
    rework_h = total(p["rework_h"] for p in parts.values())
    net_hours = hours_saved - rework_h
    tier2 = {
        "cases_per_month": cases,
        "calls_in_scope_per_month": calls_all,
        "slm_answers_per_month": slm_answers,
        "escalation_rate": (calls_all - slm_answers) / calls_all,
        "rework_rate": total(p["calls"] * p["offload"] * (1 - p["quality"]) for p in parts.values())
        * a["rework_share"] / slm_answers,
        "person_seconds_saved_per_case": assistant_s * crit / cases,
        "hours_saved_per_month": hours_saved,
        "rework_hours_per_month": rework_h,
        "net_hours_saved_per_month": net_hours,
        "handling_minutes_before": a["handling_minutes_per_case"],
        "handling_minutes_after": a["handling_minutes_per_case"] - net_hours * 60.0 / cases,
        "handling_time_saved_share": net_hours * 60.0 / (cases * a["handling_minutes_per_case"]),
        "throughput_headroom": combine(lambda *v: np.min(np.stack(np.broadcast_arrays(*v)), axis=0),
                                       *(tier1[t]["headroom"] for t in tier1)) if tier1 else Tracked(np.nan),
        "serving_utilisation": calls_all / HOURS_PER_MONTH
        / total(p["instances"] * p["tput"] * 3600.0 for p in parts.values()),
    }
    if inp.cycle_minutes is not None:
        tier2["cycle_minutes_before"] = inp.cycle_minutes
        tier2["cycle_minutes_after"] = inp.cycle_minutes - assistant_s / cases / 60.0

    avoided = total(p["spend"] * p["offload"] for p in parts.values()) * 12
    in_scope = total(p["spend"] for p in parts.values()) * 12
    before = inp.known_cost * scale * 12
    serving_y = total(p["serving"] for p in parts.values()) * 12
    labour = hours_saved * rate * 12
    rework_cost = rework_h * rate * 12
    finetune = total(p["finetune_usd"] for p in parts.values())
    upkeep = a["annual_upkeep_usd"] + a["retrains_per_year"] * finetune
    one_off = (a["engagement_fee_usd"] + a["integration_usd"] + finetune
               + (a["additional_task_usd"] * inp.extra_tasks if inp.extra_tasks else 0.0))
    net = avoided - serving_y + labour - rework_cost - upkeep
    tier3 = {
        "llm_spend_before": before,
        "llm_spend_in_scope": in_scope,
        "llm_spend_avoided": avoided,
        "residual_llm_escalations": in_scope - avoided,
        "uncovered_llm_spend": before - in_scope,
        "llm_spend_after": before - avoided,
        "slm_serving": serving_y,
        "labour_value": labour,
        "rework_cost": rework_cost,
        "upkeep": upkeep,
        "net_annual_benefit": net,
        "one_off": one_off,
        "one_off_fine_tuning": finetune,
    }

    # the monthly cash flow with the adoption ramp
    months = np.arange(1, max(inp.horizon_months, PAYBACK_LIMIT_YEARS * 12) + 1)
    r = adoption(months, a["ramp_months"].value)
    col = lambda x: np.asarray(x.value, dtype=float)[..., None]  # noqa: E731
    variable = r * col((avoided + labour - rework_cost) / 12.0)
    serving_m = 0.0
    for p in parts.values():
        need = np.ceil(r * col(p["peak"]) / col(p["capacity"]))
        serving_m = serving_m + np.maximum(col(a["min_instances_per_task"]), need) * HOURS_PER_MONTH * col(hourly)
    net_m = variable - serving_m - col(upkeep / 12.0)
    fin = financials(net_m, one_off.value, a["discount_rate"].value, inp.horizon_months)
    cash_inputs = (avoided + labour + rework_cost + serving_y + upkeep + one_off + a["ramp_months"]).inputs
    for k in ("payback_months", "npv", "roi_pct"):
        deps = cash_inputs | (a["discount_rate"].inputs if k == "npv" else frozenset())
        tier3[k] = Tracked(fin[k], deps)
    tier3["net_over_horizon"] = Tracked(fin["net_over_horizon"], cash_inputs)
    cash = {"months": months, "adoption": r, "net": net_m, "cumulative": fin["cumulative"], "inputs": cash_inputs}
    return Result(tier1, tier2, tier3, cash)


def values(d: dict[str, Tracked]) -> dict[str, float | None]:
    return {k: as_float(v) for k, v in d.items()}
