"""`fde`: the command line, a thin layer over the library. Every command takes an engagement folder."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from fde_toolkit import FdeError, open_engagement

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="fde-toolkit: analyse an LLM agent's logged calls and move recurring tasks to SLMs.")

EngagementArg = typer.Argument(..., help="The engagement folder, e.g. engagements/acme.")
ForceOpt = typer.Option(False, "--force", help="Redo the step even if its inputs did not change.")


@app.command()
def new(name: str = typer.Argument(..., help="Engagement name; a bare name goes under engagements/."),
        logs: Optional[Path] = typer.Option(None, "--logs", help="File or folder with the customer's call logs."),
        link: bool = typer.Option(False, "--link", help="Symlink the logs instead of copying them."),
        client: str = typer.Option("", "--client", help="Client name shown in reports.")) -> None:
    """Scaffold engagements/NAME from the template and bring the raw logs under data/raw/."""
    from fde_toolkit.engagement import new_engagement

    root = Path(name) if ("/" in name or "\\" in name) else Path("engagements") / name
    eng = new_engagement(root, logs=logs, link=link, client=client)
    n = len(eng.raw_files())
    typer.echo(f"Created {eng.root} with {n} raw log file(s) under {eng.raw_dir}.")
    typer.echo(f"Next: edit {eng.root / 'engagement.yaml'} if needed, then `fde ingest {eng.root}`.")


@app.command()
def ingest(engagement: Path = EngagementArg, force: bool = ForceOpt) -> None:
    """Read every file under data/raw/ into artifacts/calls.parquet; bad records go to quarantine.jsonl."""
    typer.echo(open_engagement(engagement).ingest(force=force))


@app.command()
def profile(engagement: Path = EngagementArg, force: bool = ForceOpt) -> None:
    """Profile the accepted calls: volume, models, tokens, latency, errors, cost, tools."""
    typer.echo(open_engagement(engagement).profile(force=force))


@app.command()
def scrub(engagement: Path = EngagementArg, force: bool = ForceOpt) -> None:
    """S2: replace PII with consistent pseudonyms and apply the sensitivity rules -> curated.parquet."""
    typer.echo(open_engagement(engagement).scrub(force=force))


@app.command()
def discover(engagement: Path = EngagementArg, force: bool = ForceOpt) -> None:
    """S3: cluster the curated calls into recurring tasks; rank SLM candidates by the LLM spend they could avoid."""
    typer.echo(open_engagement(engagement).discover(force=force))


TaskOpt = typer.Option(None, "--task", help="Task id from tasks.json, e.g. t003. Default: the SLM candidate tasks.")


def _slm_tasks(engagement: Path, task: Optional[str], needs: Optional[str] = None):
    """(engagement, task ids) for an S4/S5 step; says which tasks it picked when --task is not given."""
    from fde_toolkit.slm.status import plan_tasks

    eng = open_engagement(engagement)
    ids, notes = plan_tasks(eng, task, needs=needs)
    for line in notes:
        typer.echo(line)
    return eng, ids


@app.command()
def dataset(engagement: Path = EngagementArg, task: Optional[str] = TaskOpt, force: bool = ForceOpt) -> None:
    """S4/S5: a task's curated calls as train/val/test chat examples (and an OpenAI fine-tuning export)."""
    eng, ids = _slm_tasks(engagement, task)
    for t in ids:
        typer.echo(eng.dataset(t, force=force))


@app.command()
def select(engagement: Path = EngagementArg, task: Optional[str] = TaskOpt, force: bool = ForceOpt) -> None:
    """S4: run every candidate SLM zero-shot and few-shot on the task's test split and rank them."""
    eng, ids = _slm_tasks(engagement, task, needs="dataset")
    for t in ids:
        typer.echo(eng.select(t, force=force))


@app.command()
def finetune(engagement: Path = EngagementArg, task: Optional[str] = TaskOpt,
             candidate: Optional[str] = typer.Option(None, "--candidate", help="Candidate id; default: finetune."
                                                     "candidate, else the best of `fde select`, else the first."),
             resume: bool = typer.Option(False, "--resume", help="Continue from the last checkpoint."),
             budget_minutes: Optional[float] = typer.Option(
                 None, "--budget-minutes", min=0.01, help="Wall-clock budget for this run (overrides finetune.train)."),
             max_steps: Optional[int] = typer.Option(None, "--max-steps", min=1, help="Stop after this many steps."),
             force: bool = ForceOpt) -> None:
    """S5: LoRA fine-tune a candidate on the task's dataset; writes the adapter, curves and model card."""
    eng, ids = _slm_tasks(engagement, task, needs="dataset")
    for t in ids:
        typer.echo(eng.finetune(t, candidate=candidate, resume=resume, budget_minutes=budget_minutes,
                                max_steps=max_steps, force=force))


@app.command()
def evaluate(engagement: Path = EngagementArg, task: Optional[str] = TaskOpt, force: bool = ForceOpt) -> None:
    """Base vs few-shot vs fine-tuned against the LLM on the test split: quality, latency, cost per task."""
    eng, ids = _slm_tasks(engagement, task, needs="training")
    for t in ids:
        typer.echo(eng.evaluate(t, force=force))


@app.command()
def route(engagement: Path = EngagementArg,
          replay: bool = typer.Option(False, "--replay", help="Also run the held-out calls through the policy and "
                                      "compare offload, quality, cost and latency with all-LLM."),
          force: bool = ForceOpt) -> None:
    """Calibrate SLM-first routing per task on validation, check it on test: routing.yaml and routing.json."""
    eng = open_engagement(engagement)
    typer.echo(eng.route(force=force))
    if replay:
        typer.echo(eng.replay(force=force))


@app.command()
def harden(engagement: Path = EngagementArg,
           task: Optional[list[str]] = typer.Option(None, "--task", help="Task id (repeatable); default: every "
                                                    "task with a specialist."),
           runtimes: Optional[str] = typer.Option(None, "--runtimes", help="Comma-separated runtimes, e.g. "
                                                  "eager,onnx-int8; default: hardening.runtimes, else all that apply."),
           force: bool = ForceOpt) -> None:
    """Benchmark each specialist per runtime and batch size, gate by the SLA, probe robustness: hardening.json."""
    names = [r.strip() for r in runtimes.split(",") if r.strip()] if runtimes else None
    typer.echo(open_engagement(engagement).harden(force=force, tasks=task or None, runtimes=names))


@app.command()
def drift(engagement: Path = EngagementArg,
          logs: Path = typer.Option(..., "--logs", help="Folder of new logs (any format `fde ingest` reads)."),
          force: bool = ForceOpt) -> None:
    """S6: new logs against the known tasks: task-mix, input and outcome shift per week; keep / retrain / new."""
    typer.echo(open_engagement(engagement).drift(logs, force=force))


@app.command()
def serve(engagement: Path = EngagementArg,
          host: Optional[str] = typer.Option(None, "--host", help="Address to listen on (default: serve.host)."),
          port: Optional[int] = typer.Option(None, "--port", min=0, max=65535,
                                             help="Port (default: serve.port).")) -> None:
    """Serve the router as an OpenAI-compatible endpoint: /v1/chat/completions, /v1/models, /health, /metrics."""
    from fde_toolkit.serving.app import serve as run_server

    run_server(open_engagement(engagement), host=host, port=port, echo=typer.echo)


@app.command()
def roi(engagement: Path = EngagementArg, force: bool = ForceOpt) -> None:
    """Three-tier ROI from what was measured and the named assumptions: artifacts/roi.json and figures."""
    typer.echo(open_engagement(engagement).roi(force=force))


@app.command()
def bundle(engagement: Path = EngagementArg,
           out: Optional[Path] = typer.Option(None, "--out", help="Folder to write; default: artifacts/bundle."),
           force: bool = ForceOpt) -> None:
    """A deployable folder: the chosen model per task, routing.yaml, serve.yaml, pinned requirements.txt, a runbook
    (start, stop, health, metrics, rollback to all-LLM, logs, SLA, vLLM multi-LoRA) and a sha256 manifest."""
    typer.echo(open_engagement(engagement).bundle(out=out, force=force))


@app.command()
def run(engagement: Path = EngagementArg,
        phase: Optional[list[str]] = typer.Option(
            None, "--phase", help="Notebook(s) to run, e.g. 01_scoping or executive_summary (repeatable). "
                                  "Default: every phase notebook, then the executive summary slides."),
        force: bool = ForceOpt) -> None:
    """Execute the phase notebooks with Papermill into reports/: an HTML report per phase and the
    executive summary as reveal.js slides (reports/executive_summary.slides.html), all offline."""
    for out in open_engagement(engagement).run_reports(phases=phase or None, force=force):
        typer.echo(f"Wrote {out}")


@app.command()
def synth(out: Path = typer.Argument(..., help="Folder to write the demo customer's logs into."),
          calls: int = typer.Option(20_000, "--calls", help="Number of logged calls."),
          days: int = typer.Option(30, "--days", help="Days of traffic."),
          seed: int = typer.Option(7, "--seed")) -> None:
    """Generate the demo customer's logs (deterministic for a seed)."""
    from fde_toolkit.synth import write_demo_logs

    for p in write_demo_logs(out, n_calls=calls, days=days, seed=seed):
        typer.echo(f"Wrote {p}")


@app.command()
def demo(engagement: Path = typer.Argument(Path("engagements/demo"), help="The demo engagement folder."),
         calls: int = typer.Option(20_000, "--calls", help="Number of demo calls to generate."),
         decoders: Optional[bool] = typer.Option(
             None, "--decoders/--no-decoders", help="Also train decoder LoRA specialists for the tool-call, JSON "
             "and text tasks (default: when CUDA is available; hours on a 2-core CPU)."),
         force: bool = ForceOpt) -> None:
    """Run the demo engagement end to end: generate logs, ingest, profile, render the reports."""
    from fde_toolkit.demo import run_demo

    for line in run_demo(engagement, n_calls=calls, force=force, decoders=decoders):
        typer.echo(line)


def main() -> None:
    """Entry point that turns FdeError into a one-paragraph message instead of a stack trace."""
    try:
        app()
    except FdeError as e:
        typer.secho(str(e), fg=typer.colors.RED, err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
