"""The demo engagement end to end: generate the demo customer's logs, then run every step that exists."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterator

from fde_toolkit.engagement import Engagement, create_pii_key, new_engagement

DEMO_MARKER = ".demo.json"  # hidden, so ingest never reads it
DEMO_SPECIALISTS = 4  # candidate tasks the demo specialises, by the LLM spend they could avoid


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
             force: bool = False, decoders: bool | None = None) -> Iterator[str]:
    """Every phase on the demo customer, one line (or block) per step: generate the logs (once), ingest,
    scrub, profile, discover tasks, then for the candidate tasks that hold most of the avoidable spend
    build the dataset, train the specialist and evaluate it (the budget is `finetune:` in engagement.yaml),
    calibrate the routing, harden the specialists (runtimes, batching, SLA, robustness), replay the
    held-out calls through the router on the recommended runtimes, the ROI, the deployable bundle, then
    every phase report and the slides.

    A label task gets the encoder classifier (seconds on a CPU); tool-call, JSON and text tasks need a
    decoder LoRA, which the demo trains only with `decoders=True` (default: when CUDA is available): on
    a 2-core CPU one of them takes longer than the whole demo's budget."""
    root = Path(root)
    eng = Engagement.load(root) if (root / "engagement.yaml").is_file() else new_engagement(root, client="Demo")
    eng.raw_dir.mkdir(parents=True, exist_ok=True)
    made = ensure_demo_logs(eng, n_calls)
    yield (f"Generated {n_calls:,} demo calls under {eng.raw_dir}" if made
           else f"Demo logs already under {eng.raw_dir}")
    yield str(eng.ingest(force=force))
    create_pii_key(eng)
    yield str(eng.scrub(force=force))
    yield str(eng.profile(force=force))
    yield "\n".join(str(eng.discover(force=force)).split("\n")[:12])
    if decoders is None:
        from fde_toolkit.slm.registry import best_device
        decoders = best_device() == "cuda"
    for task in eng.candidate_tasks()[:DEMO_SPECIALISTS]:
        info = eng.dataset(task, force=force)
        yield str(info)
        if info.data["output_kind"] != "label" and not decoders:
            yield (f"{task}: a {info.data['output_kind']} task needs a decoder LoRA specialist; the demo trains "
                   f"those only with --decoders (on by default with CUDA). Next: `fde finetune "
                   f"{eng.display_root} --task {task}` with a budget that fits this machine.")
            continue
        yield str(eng.finetune(task, force=force))
        yield str(eng.evaluate(task, force=force))
    yield str(eng.route(force=force))
    yield str(eng.harden(force=force))
    yield str(eng.replay(force=force))
    yield str(eng.roi(force=force))
    yield str(eng.bundle(force=force))
    for out in eng.run_reports(force=force):
        yield f"Wrote {out}"
