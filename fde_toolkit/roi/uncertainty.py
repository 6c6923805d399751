"""How sure the ROI is: a tornado of the assumptions, a seeded Monte Carlo, and the scenarios side by side.

    rows = tornado(inputs, assumptions)                     # ranked by swing of net annual benefit
    mc = monte_carlo(inputs, assumptions, samples=2000, seed=7, distribution="triangular")
    mc["net_annual_benefit"]["p10"], mc["payback_months"]["p50"]
    scen = scenarios(inputs, inputs_expanded, assumptions, rows)

Measurements stay as measured in every run; only the assumptions vary (between their low and high,
most often near likely). The same seed gives the same samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fde_toolkit.roi.lineage import as_float
from fde_toolkit.roi.model import ModelInputs, assumption_values, evaluate

HEADLINE = ("net_annual_benefit", "payback_months", "npv", "roi_pct")


def tornado(inp: ModelInputs, assumptions: dict[str, Any], output: str = "net_annual_benefit") -> list[dict[str, Any]]:
    """Each varying assumption at its low and its high end, the others at likely; largest swing first."""
    base = as_float(evaluate(inp, assumption_values(assumptions)).tier3[output])
    rows = []
    for name, a in assumptions.items():
        if not a.varies:
            continue
        ends = {}
        for which in ("low", "high"):
            res = evaluate(inp, assumption_values(assumptions, overrides={name: getattr(a, which)}))
            ends[which] = {"net_annual_benefit": as_float(res.tier3["net_annual_benefit"]),
                           "payback_months": as_float(res.tier3["payback_months"]),
                           "npv": as_float(res.tier3["npv"])}
        lo, hi = ends["low"][output], ends["high"][output]
        if lo is None or hi is None:
            continue
        rows.append({"assumption": name, "unit": a.unit, "low": a.low, "likely": a.likely, "high": a.high,
                     "at_low": ends["low"], "at_high": ends["high"], "base": base, "swing": abs(hi - lo),
                     "unfavourable": "low" if lo < hi else ("high" if hi < lo else None)})
    rows.sort(key=lambda r: (-r["swing"], r["assumption"]))
    return rows


def sample_assumptions(assumptions: dict[str, Any], samples: int, seed: int,
                       distribution: str = "triangular") -> dict[str, np.ndarray]:
    """Draws for every varying assumption (sorted by name, so the stream is stable), from a numpy Generator."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for name in sorted(assumptions):
        a = assumptions[name]
        if not a.varies:
            continue
        if distribution == "pert":
            alpha = 1 + 4 * (a.likely - a.low) / (a.high - a.low)
            beta = 1 + 4 * (a.high - a.likely) / (a.high - a.low)
            out[name] = a.low + (a.high - a.low) * rng.beta(alpha, beta, samples)
        else:
            out[name] = rng.triangular(a.low, a.likely, a.high, samples)
    return out


def _quantiles(x: np.ndarray) -> dict[str, float | None]:
    """P10/P50/P90 (the nearest sample, so a payback that never comes stays None) and the finite samples' mean."""
    out: dict[str, float | None] = {}
    for p in (10, 50, 90):
        q = float(np.quantile(x, p / 100.0, method="nearest"))
        out[f"p{p}"] = q if np.isfinite(q) else None
    fin = x[np.isfinite(x)]
    out["mean"] = float(fin.mean()) if fin.size else None
    return out


def _histogram(x: np.ndarray, bins: int = 40) -> dict[str, list[float]]:
    fin = x[np.isfinite(x)]
    if not fin.size:
        return {"edges": [], "counts": []}
    lo, hi = float(fin.min()), float(fin.max())
    if hi <= lo:
        hi = lo + max(abs(lo) * 1e-6, 1e-9)
    counts, edges = np.histogram(fin, bins=bins, range=(lo, hi))
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def monte_carlo(inp: ModelInputs, assumptions: dict[str, Any], samples: int = 2000, seed: int = 7,
                distribution: str = "triangular") -> dict[str, Any]:
    """Net annual benefit, payback, NPV and ROI % over `samples` joint draws of the assumptions."""
    draws = sample_assumptions(assumptions, samples, seed, distribution)
    res = evaluate(inp, assumption_values(assumptions, overrides=draws))
    out: dict[str, Any] = {"samples": samples, "seed": seed, "distribution": distribution,
                           "varied": sorted(draws)}
    horizon_years = inp.horizon_months / 12
    for k in HEADLINE:
        x = np.broadcast_to(np.asarray(res.tier3[k].value, dtype=float), (samples,)).copy()
        out[k] = _quantiles(x)
        if k in ("net_annual_benefit", "payback_months", "npv"):
            out[k]["histogram"] = _histogram(x)
        if k == "net_annual_benefit":
            out["p_positive_net_benefit"] = float((x > 0).mean())
        if k == "payback_months":
            out["p_payback_within_horizon"] = float((x <= inp.horizon_months).mean())
            out["payback_never_share"] = float((~np.isfinite(x)).mean())
    out["horizon_years"] = horizon_years
    return out


SCENARIOS = {
    "as_measured": ("As measured", "The measured specialists with every assumption at its likely value."),
    "conservative": ("Conservative", "The measured specialists with every assumption at the end of its range "
                                     "that lowers the net benefit (from the tornado)."),
    "expanded": ("Expanded", "As measured, plus the next SLM-candidate tasks of tasks.json, which have no "
                             "evaluation yet: they are assumed to perform like the measured specialists "
                             "(mean quality, latency, throughput and training time), each at one more "
                             "additional_task_usd of one-off cost."),
    "paying_tasks": ("Paying tasks only", "Only the measured specialists whose own yearly contribution (LLM spend "
                                          "avoided, less serving, waiting time and rework) is positive; the others "
                                          "stay on the LLM."),
}


def scenario_assumptions(assumptions: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, float]:
    """Each varying assumption at its unfavourable end (as the tornado found it)."""
    out = {}
    for r in rows:
        if r["unfavourable"]:
            out[r["assumption"]] = r[r["unfavourable"]]
    return out
