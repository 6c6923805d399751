"""The engagement folder: config validation, scaffolding, and the manifest's skip logic."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement, load_config, new_engagement
from fde_toolkit.files import write_text
from fde_toolkit.step import StepOutputs, run_step


def test_new_engagement_copies_logs_and_validates(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (logs / "sub").mkdir(parents=True)
    (logs / "a.jsonl").write_text("{}\n")
    (logs / "sub" / "b.jsonl").write_text("{}\n")
    eng = new_engagement(tmp_path / "acme", logs=logs, client="Acme Corp")
    assert eng.name == "acme"
    assert eng.config.client == "Acme Corp"
    assert [p.relative_to(eng.raw_dir).as_posix() for p in eng.raw_files()] == ["a.jsonl", "sub/b.jsonl"]
    assert not (eng.raw_dir / "a.jsonl").is_symlink()
    # the raw logs are copies: the originals are untouched
    assert (logs / "a.jsonl").read_text() == "{}\n"


def test_new_engagement_links_a_single_file(tmp_path: Path) -> None:
    f = tmp_path / "calls.jsonl"
    f.write_text("{}\n")
    eng = new_engagement(tmp_path / "acme", logs=f, link=True)
    assert (eng.raw_dir / "calls.jsonl").is_symlink()


def test_new_engagement_refuses_existing_and_missing_logs(tmp_path: Path) -> None:
    new_engagement(tmp_path / "acme")
    with pytest.raises(FdeError, match="already exists"):
        new_engagement(tmp_path / "acme")
    with pytest.raises(FdeError, match="no such file or folder"):
        new_engagement(tmp_path / "other", logs=tmp_path / "nope")


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    cfg = tmp_path / "engagement.yaml"
    cfg.write_text("name: acme\nseeed: 3\nsources:\n  - format: xml\n")
    with pytest.raises(FdeError) as e:
        load_config(cfg)
    msg = str(e.value)
    assert "seeed" in msg and "sources[0].format" in msg and str(cfg) in msg


def test_config_yaml_error_names_the_line(tmp_path: Path) -> None:
    cfg = tmp_path / "engagement.yaml"
    cfg.write_text("name: acme\nsources: [\n  - glob: x\n")
    with pytest.raises(FdeError, match=r"line \d+"):
        load_config(cfg)


def test_missing_engagement_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(FdeError, match="fde new"):
        Engagement.load(tmp_path / "nope")


def test_manifest_skips_only_when_inputs_params_and_outputs_are_unchanged(tmp_path: Path) -> None:
    eng = new_engagement(tmp_path / "acme")
    src = eng.raw_dir / "x.txt"
    src.write_text("one")
    out = eng.artifacts_dir / "out.txt"
    runs: list[str] = []

    def make(outputs: StepOutputs) -> str:
        runs.append(src.read_text())
        outputs.add(write_text(out, src.read_text()))
        return src.read_text()

    def step(params: dict) -> bool:
        result = run_step(eng, "demo-step", inputs=[src], params=params, make=make,
                          previous=lambda: out.read_text() if out.exists() else None,
                          render=lambda text: f"copied {text}")
        assert result.data == src.read_text()
        assert ("up to date" in str(result)) is result.skipped
        return not result.skipped

    assert step({"k": 1}) is True
    assert step({"k": 1}) is False  # unchanged: skipped
    assert step({"k": 2}) is True  # parameters changed
    src.write_text("two")
    os.utime(src, ns=(1, 1))  # mtime alone must not fool the hash cache
    assert step({"k": 2}) is True  # input changed
    out.unlink()
    assert step({"k": 2}) is True  # output missing
    assert runs == ["one", "one", "two", "two"]
    # the manifest survives a reload
    again = Engagement.load(eng.root)
    assert again.manifest.is_fresh("demo-step", [src], {"k": 2})
    assert again.manifest.data["steps"]["demo-step"]["versions"]["polars"]
    assert again.manifest.data["steps"]["demo-step"]["outputs"] == ["artifacts/out.txt"]


def test_cli_error_is_one_message_not_a_traceback(tmp_path: Path) -> None:
    fde = Path(sys.executable).parent / "fde"
    r = subprocess.run([str(fde), "ingest", str(tmp_path / "nope")], capture_output=True, text=True)
    assert r.returncode == 2
    assert "fde new" in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_new_scaffolds(tmp_path: Path) -> None:
    fde = Path(sys.executable).parent / "fde"
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.jsonl").write_text("{}\n")
    r = subprocess.run([str(fde), "new", str(tmp_path / "eng" / "acme"), "--logs", str(logs)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "1 raw log file" in r.stdout
    assert (tmp_path / "eng" / "acme" / "engagement.yaml").is_file()


def test_new_engagement_gets_its_own_random_pii_key(tmp_path: Path) -> None:
    a, b = new_engagement(tmp_path / "a"), new_engagement(tmp_path / "b")
    ka, kb = (a.root / ".secrets" / "pii.key"), (b.root / ".secrets" / "pii.key")
    assert ka.is_file() and kb.is_file()
    assert ka.read_text() != kb.read_text() and len(ka.read_text().strip()) == 64
    assert oct(ka.stat().st_mode & 0o777) == "0o600"
