"""S1 ingest's report: what an ingest read, accepted and quarantined, by file and by reason.

    report = eng.ingest().data           # an IngestReport
    print(report.render())               # totals, counts by file (the worst first), by reason

It is written as artifacts/ingest_report.json (`to_dict`) and read back from it (`from_dict`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class FileRow:
    """Counts for one raw file. refused: "reason: what to do" when the file (or its rest) was not read."""

    file: str
    format: str
    read: int = 0
    accepted: int = 0
    quarantined: int = 0
    refused: str | None = None


@dataclass
class IngestReport:
    """What an ingest read, accepted and quarantined, by file and by reason."""

    files: list[FileRow]
    reasons: dict[str, int]
    totals: dict[str, int]
    unpriced_models: list[str] = field(default_factory=list)

    @property
    def read(self) -> int:
        return int(self.totals.get("read", 0))

    @property
    def accepted(self) -> int:
        return int(self.totals.get("accepted", 0))

    @property
    def quarantined(self) -> int:
        return int(self.totals.get("quarantined", 0))

    def to_dict(self) -> dict[str, Any]:
        return {"files": [asdict(f) for f in self.files], "reasons": dict(self.reasons),
                "totals": dict(self.totals), "unpriced_models": list(self.unpriced_models)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "IngestReport":
        return cls(files=[FileRow(**f) for f in d.get("files", [])], reasons=dict(d.get("reasons", {})),
                   totals=dict(d.get("totals", {})), unpriced_models=list(d.get("unpriced_models", [])))

    def render(self, top: int = 15) -> str:
        """A readable summary: totals, counts by file (the worst `top` when there are many), by reason."""
        t = self.totals
        out = []
        out.append(f"Ingest: {t.get('files', 0):,} files, {t.get('read', 0):,} records read: "
                   f"{t.get('accepted', 0):,} accepted, {t.get('quarantined', 0):,} quarantined"
                   + (f", {t['refused_files']:,} file(s) refused." if t.get("refused_files") else "."))
        rows = self.files
        rest: list[FileRow] = []
        if len(rows) > top:
            ranked = sorted(rows, key=lambda f: (-f.quarantined, f.file))
            rows, rest = ranked[:top], ranked[top:]
        width = min(max([len(f.file) for f in rows] + [len("file")]), 60)
        out.append("")
        out.append(f"{'file':<{width}}  {'format':<9} {'read':>10} {'accepted':>10} {'quarantined':>11}  refused")
        for f in rows:
            name = f.file if len(f.file) <= width else "..." + f.file[-(width - 3):]
            why = (f.refused or "").split(":")[0]
            out.append(f"{name:<{width}}  {f.format:<9} {f.read:>10,} {f.accepted:>10,} {f.quarantined:>11,}  {why}")
        if rest:
            label = f"({len(rest):,} more files)"
            out.append(f"{label:<{width}}  {'':<9} {sum(f.read for f in rest):>10,} "
                       f"{sum(f.accepted for f in rest):>10,} {sum(f.quarantined for f in rest):>11,}  "
                       f"{sum(1 for f in rest if f.refused) or ''}")
        if self.reasons:
            out.append("")
            out.append("quarantined by reason")
            for reason, n in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
                out.append(f"  {reason:<28} {n:>10,}")
        refused = [f for f in self.files if f.refused]
        if refused:
            out.append("")
            out.append("refused files (each counts as 1 record read and 1 quarantined):")
            for f in refused[:top]:
                out.append(f"  {f.file}: {f.refused}")
            if len(refused) > top:
                out.append(f"  ... and {len(refused) - top:,} more; see artifacts/quarantine.jsonl")
        if self.unpriced_models:
            out.append("")
            out.append("no price for models (cost_usd left null): " + ", ".join(self.unpriced_models[:20])
                       + ". Add them under prices: in engagement.yaml.")
        return "\n".join(out)
