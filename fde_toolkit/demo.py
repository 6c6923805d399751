"""The demo engagement end to end: generate the demo customer's logs, then run every step that exists."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

from fde_toolkit.engagement import Engagement, create_pii_key, new_engagement

DEMO_MARKER = ".demo.json"  # hidden, so ingest never reads it


def ensure_demo_logs(eng: Engagement, n_calls: int) -> bool:
    """Write the demo customer's logs under data/raw/ unless the same ones are already there."""
    from fde_toolkit.synth import write_demo_logs

    marker = eng.raw_dir / DEMO_MARKER
    wanted = {"n_calls": n_calls, "seed": eng.config.seed}
    if marker.is_file() and json.loads(marker.read_text()) == wanted and eng.raw_files():
        return False
    for old in eng.raw_files():
        old.unlink()
    write_demo_logs(eng.raw_dir, n_calls=n_calls, seed=eng.config.seed)
    marker.write_text(json.dumps(wanted))
    return True


def run_demo(root: str | os.PathLike = "engagements/demo", n_calls: int = 20_000,
             force: bool = False) -> Iterator[str]:
    """Generate (once), ingest, scrub, profile, discover tasks and render the demo engagement; yield one line per step."""
    from fde_toolkit.logs.ingest import ingest
    from fde_toolkit.logs.profile import profile, render_summary
    from fde_toolkit.privacy import render_report, scrub
    from fde_toolkit.reports.runner import run_phases
    from fde_toolkit.tasks import discover, render_tasks

    root = Path(root)
    eng = Engagement.load(root) if (root / "engagement.yaml").is_file() else new_engagement(root, client="Demo")
    eng.raw_dir.mkdir(parents=True, exist_ok=True)
    made = ensure_demo_logs(eng, n_calls)
    yield (f"Generated {n_calls:,} demo calls under {eng.raw_dir}" if made
           else f"Demo logs already under {eng.raw_dir}")
    report = ingest(eng, force=force)
    yield report.render()
    create_pii_key(eng)
    yield render_report(scrub(eng, force=force))
    yield render_summary(profile(eng, force=force))
    yield "\n".join(render_tasks(discover(eng, force=force)).split("\n")[:12])
    for out in run_phases(eng, phases=["01_scoping"], force=force):
        yield f"Wrote {out}"
