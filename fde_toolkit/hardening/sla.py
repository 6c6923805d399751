"""The SLA gate: every measured configuration and batch size against the task's service levels, and the
cheapest one that passes.

    limits = sla_limits(eng.config.sla.for_task("t01"), llm_p95_ms=612.0)
    rows = sla_rows(configurations, limits, max_quality_drop=0.01, hourly_usd=0.10)
    rec = recommend(configurations, rows)     # None when no row passes; else runtime, batch_size, why, ...

A row per measured configuration (status "ok" or "failed_quality") x batch size. Checks (None = not
checked): p95 latency at that batch size <= p95_ms (the SLA's, else the task's logged LLM p95),
requests/s >= min_requests_per_s, agreement with the LLM on the test split >= quality_floor, peak memory
<= max_memory_mb, and the quality drop against eager <= hardening.max_quality_drop (always checked).
Serving cost per million requests = hourly_usd / (requests_per_s x 3600) x 1e6: one instance busy at the
measured rate. Recommended: the passing row with the lowest cost; ties go to lower peak memory, then lower p95.
"""

from __future__ import annotations

from typing import Any, Sequence

from fde_toolkit.hardening.config import Sla

MEASURED = ("ok", "failed_quality")


def sla_limits(sla: Sla, llm_p95_ms: float | None) -> dict[str, Any]:
    """The limits a task's rows are checked against; p95_ms falls back to the LLM's logged p95."""
    p95 = sla.p95_ms if sla.p95_ms is not None else llm_p95_ms
    return {"p95_ms": p95, "p95_source": "sla" if sla.p95_ms is not None else ("llm_logged_p95" if p95 is not None
                                                                                 else "none"),
            "min_requests_per_s": sla.min_requests_per_s, "quality_floor": sla.quality_floor,
            "max_memory_mb": sla.max_memory_mb}


def usd_per_million(hourly_usd: float, requests_per_s: float | None) -> float | None:
    """Serving cost of a million requests on one instance answering `requests_per_s`."""
    if not requests_per_s or requests_per_s <= 0:
        return None
    return round(hourly_usd / (requests_per_s * 3600.0) * 1e6, 6)


def _at_most(value: float | None, limit: float | None) -> bool | None:
    if limit is None:
        return None
    return value is not None and value <= limit


def _at_least(value: float | None, limit: float | None) -> bool | None:
    if limit is None:
        return None
    return value is not None and value >= limit


def sla_rows(configurations: Sequence[dict[str, Any]], limits: dict[str, Any], max_quality_drop: float,
             hourly_usd: float) -> list[dict[str, Any]]:
    """One pass/fail row per measured configuration and batch size (module docstring)."""
    rows = []
    for c in configurations:
        if c.get("status") not in MEASURED:
            continue
        q = c.get("quality") or {}
        drop = q.get("drop")
        for b in c.get("batches") or []:
            p95 = (b.get("latency_ms") or {}).get("p95")
            rps = b.get("requests_per_s")
            checks = {"p95_ms": _at_most(p95, limits.get("p95_ms")),
                      "min_requests_per_s": _at_least(rps, limits.get("min_requests_per_s")),
                      "quality_floor": _at_least(q.get("value"), limits.get("quality_floor")),
                      "max_memory_mb": _at_most(c.get("peak_memory_mb"), limits.get("max_memory_mb")),
                      "quality_drop": drop is not None and drop <= max_quality_drop + 1e-12}
            rows.append({"runtime": c["runtime"], "batch_size": b["batch_size"], "p95_ms": p95,
                         "requests_per_s": rps, "quality": q.get("value"), "peak_memory_mb": c.get("peak_memory_mb"),
                         "usd_per_million": usd_per_million(hourly_usd, rps), "checks": checks,
                         "passed": all(v is not False for v in checks.values())})
    return rows


def _cost_key(row: dict[str, Any]) -> tuple[float, float, float]:
    inf = float("inf")
    return (row["usd_per_million"] if row["usd_per_million"] is not None else inf,
            row["peak_memory_mb"] if row["peak_memory_mb"] is not None else inf,
            row["p95_ms"] if row["p95_ms"] is not None else inf)


def failures(rows: Sequence[dict[str, Any]]) -> str:
    """What failed, counted by check: 'p95_ms 6 of 8 rows, quality_drop 4 of 8 rows'."""
    counts: dict[str, int] = {}
    for r in rows:
        for k, v in r["checks"].items():
            if v is False:
                counts[k] = counts.get(k, 0) + 1
    return ", ".join(f"{k} {n} of {len(rows)} rows" for k, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def recommend(configurations: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]],
              limits: dict[str, Any] | None = None) -> tuple[dict[str, Any] | None, str]:
    """(the recommendation, why): the cheapest passing row, with its runtime's batch-1 latency; (None, why)
    when no row passes."""
    passing = [r for r in rows if r["passed"]]
    if not passing:
        if not rows:
            return None, "no configuration was measured successfully, so none can be recommended"
        return None, f"no configuration meets the SLA: {failures(rows)} fail"
    best = min(passing, key=_cost_key)
    conf = next(c for c in configurations if c["runtime"] == best["runtime"])
    one = next((b for b in conf["batches"] if b["batch_size"] == 1), conf["batches"][0])
    p95_limit = (limits or {}).get("p95_ms")
    cost = best["usd_per_million"]
    why = (f"{best['runtime']} at batch {best['batch_size']} is the cheapest of {len(passing)} passing row(s) of "
           f"{len(rows)}: ${cost:,.2f} per million requests at {best['requests_per_s']:,.1f} requests/s"
           if cost is not None else f"{best['runtime']} at batch {best['batch_size']} passes")
    why += f", p95 {best['p95_ms']:,.1f} ms" + (f" (limit {p95_limit:,.0f} ms)" if p95_limit is not None else "")
    if best["quality"] is not None:
        why += f", agreement {best['quality']:.3f}"
    if conf.get("quality", {}).get("drop") is not None:
        why += f" (a drop of {conf['quality']['drop']:.3f} against eager)"
    if best["peak_memory_mb"] is not None:
        why += f", peak memory {best['peak_memory_mb']:,.0f} MB"
    rec = {"runtime": best["runtime"], "batch_size": best["batch_size"], "why": why,
           "latency_ms": dict(one["latency_ms"]), "requests_per_s": best["requests_per_s"],
           "usd_per_million": cost}
    return rec, why
