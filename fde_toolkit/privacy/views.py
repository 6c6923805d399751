"""The terminal summary `fde scrub` prints: counts from a pii_report, never values."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fde_toolkit.engagement import Engagement

_DONE = {"drop": "dropped", "restrict": "restricted", "flag": "flagged"}


def render_report(report: dict[str, Any]) -> str:
    """A short terminal summary of a pii_report (counts only)."""
    r, e, s = report["records"], report["entities"], report["sensitivity"]
    lines = []
    lines.append(f"Scrubbed {r['in']:,} calls in {report['seconds']['total']:.1f} s: {r['curated']:,} curated, "
                 f"{r['restricted']:,} restricted, {r['dropped']:,} dropped.")
    share = (e["records_with_pii"] / r["in"] * 100) if r["in"] else 0.0
    lines.append(f"PII found: {e['total']:,} values in {e['records_with_pii']:,} calls ({share:.1f}%).")
    if e["by_type"]:
        width = max(len(k) for k in e["by_type"])
        for ent, n in e["by_type"].items():
            distinct = e["distinct_values_by_type"].get(ent, 0)
            lines.append(f"  {ent:<{width}}  {n:>10,}  ({distinct:,} distinct)  {e['operators'].get(ent, '')}")
    if e["by_field"]:
        totals = sorted(((f, sum(v.values())) for f, v in e["by_field"].items()), key=lambda x: (-x[1], x[0]))
        lines.append("By field: " + ", ".join(f"{f} {n:,}" for f, n in totals))
    if e["by_detector"]:
        lines.append("By detector: " + ", ".join(f"{d} {n:,}" for d, n in e["by_detector"].items()))
    for rule in s["rules"]:
        lines.append(f"Sensitivity {rule['name']} ({rule['action']}): {rule['records_matched']:,} calls matched "
                     f"(keywords {rule['matched_by_keywords']:,}, patterns {rule['matched_by_patterns']:,}), "
                     f"{rule['records_actioned']:,} {_DONE[rule['action']]}.")
    return "\n".join(lines)


def load_report(eng: "Engagement") -> dict[str, Any] | None:
    """The engagement's pii_report.json, or None when `fde scrub` has not run yet."""
    return eng.artifacts.optional("pii_report")


def curation_table(report: dict[str, Any] | None) -> Any:
    """HTML table for the report: per entity type, values found, distinct values and what was done."""
    from fde_toolkit import formatting as num, viz

    if report is None:
        return viz.note("Curation has not run yet: run `fde scrub` on this engagement to fill this section.")
    e = report["entities"]
    rows = [{"type": ent, "found": num.count(n), "distinct": num.count(e["distinct_values_by_type"].get(ent, 0)),
             "action": e["operators"].get(ent, "")} for ent, n in e["by_type"].items()]
    if not rows:
        return viz.note("No PII was found in the calls.")
    return viz.table(rows, {"type": "Entity type", "found": "Values found", "distinct": "Distinct values",
                            "action": "Replaced by"}, numeric={"found", "distinct"})


def curation_summary(report: dict[str, Any] | None) -> Any:
    """One sentence on what curation read, kept, set apart and dropped (counts only)."""
    from fde_toolkit import formatting as num, viz

    if report is None:
        return viz.note("Curation has not run yet.")
    r, e = report["records"], report["entities"]
    share = e["records_with_pii"] / r["in"] if r["in"] else 0.0
    return viz.note(f"{num.count(r['in'])} calls read: {num.count(r['curated'])} curated, "
                    f"{num.count(r['restricted'])} restricted, {num.count(r['dropped'])} dropped. "
                    f"{num.count(e['total'])} PII values replaced in {num.share(share)} of calls. "
                    "Everything after this step (task discovery, datasets, models, reports) reads curated text only.")
