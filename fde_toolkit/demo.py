"""The demo engagement end to end: generate the demo customer's logs, then run every step that exists."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

from fde_toolkit.engagement import Engagement, create_pii_key, new_engagement

DEMO_MARKER = ".demo.json"  # hidden, so ingest never reads it
DEMO_SPECIALISTS = 1  # candidate tasks the demo fine-tunes (about 6 minutes each on 2 CPU cores)


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
    """Every phase on the demo customer, one line (or block) per step: generate the logs (once), ingest,
    scrub, profile, discover tasks, build the top SLM candidate's dataset, fine-tune and evaluate it
    (the budget is `finetune:` in engagement.yaml), the ROI, then every phase report and the slides."""
    from fde_toolkit.logs.ingest import ingest
    from fde_toolkit.logs.profile import profile, render_summary
    from fde_toolkit.privacy import render_report, scrub
    from fde_toolkit.reports.runner import run_phases
    from fde_toolkit.roi import render_roi, roi
    from fde_toolkit.slm import build_dataset, evaluate, finetune
    from fde_toolkit.slm.status import candidate_task_ids, load_tasks_json
    from fde_toolkit.slm.summary import render_dataset, render_evaluation, render_training
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
    for task in candidate_task_ids(load_tasks_json(eng))[:DEMO_SPECIALISTS]:
        yield render_dataset(eng, build_dataset(eng, task, force=force))
        yield render_training(eng, finetune(eng, task, force=force))
        yield render_evaluation(eng, evaluate(eng, task, force=force))
    yield render_roi(roi(eng, force=force))
    for out in run_phases(eng, force=force):
        yield f"Wrote {out}"
