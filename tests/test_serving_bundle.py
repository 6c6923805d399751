"""`fde bundle` on toy engagements: an encoder specialist routed by `fde route`, and a decoder LoRA specialist."""

from __future__ import annotations

import hashlib
import json
import secrets
import shutil
import sys

import pytest
import yaml
from slm_toy import hash_embedder, one_thread, save_toy_candidate, save_toy_encoder, routed_engagement, toy_engagement  # noqa: F401
from test_hardening_views import synthetic_hardening, synthetic_task, write_hardening

from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement
from fde_toolkit.serving.bundle import bundle, verify
from fde_toolkit.slm import build_dataset
from fde_toolkit.slm.tuning import finetune

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def eng(tmp_path_factory):
    """The toy engagement of tests/test_routing_step.py: an encoder specialist for t01, routed."""
    root = tmp_path_factory.mktemp("bundle")
    return routed_engagement(
        toy_engagement(root / "acme", n=200),
        candidates=[{"id": "tiny-bert", "kind": "encoder", "folder": str(save_toy_encoder(root / "bert")),
                     "params_m": 0.05}],
        finetune={"classifier": {"layers": 2}, "dataset": {"val_fraction": 0.3}, "evaluate": {"latency_examples": 2}},
        routing={"target": 0.8}, serve={"host": "127.0.0.1", "port": 8123})


def _manifest(folder):
    return json.loads((folder / "bundle.json").read_text(encoding="utf-8"))


def test_bundle_refuses_without_routing(tmp_path):
    bare = toy_engagement(tmp_path / "bare", n=20)
    with pytest.raises(FdeError, match=r"routing\.yaml: not found.*Run `fde route"):
        bundle(bare)


def test_bundle_never_replaces_a_folder_that_is_not_a_bundle(eng, tmp_path):
    keep = tmp_path / "home"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    with pytest.raises(FdeError, match=r"exists and is not a bundle"):
        bundle(eng, out=keep)
    assert (keep / "notes.txt").read_text() == "mine"
    with pytest.raises(FdeError, match=r"cannot be written over the engagement"):
        bundle(eng, out=eng.root.parent)


def test_bundle_without_hardening(eng, tmp_path):
    out = tmp_path / "deploy"
    result = bundle(eng, out=out)
    text = str(result)
    assert "hardening.json: not found" in text and "eager runtime" in text and "fde harden" in text
    for rel in ("RUNBOOK.md", "bundle.json", "requirements.txt", "serve.yaml", "engagement.yaml",
                "routing.all-llm.yaml", "artifacts/routing.yaml", "artifacts/router/task_index/index.json",
                "artifacts/models/t01/training.json", "artifacts/models/t01/adapter/classifier.json",
                "artifacts/models/t01/adapter/head.safetensors", "artifacts/datasets/t01/dataset.json",
                "bases/tiny-bert/config.json"):
        assert (out / rel).is_file(), rel
    assert not (out / "artifacts" / "hardening.json").exists()
    # the manifest lists every other file with its sha256 and size
    m = _manifest(out)
    listed = {e["path"]: e for e in m["files"]}
    on_disk = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    on_disk.remove("bundle.json")
    assert sorted(listed) == on_disk
    for rel, e in listed.items():
        data = (out / rel).read_bytes()
        assert e["sha256"] == hashlib.sha256(data).hexdigest() and e["bytes"] == len(data), rel
    assert verify(out) == []
    assert m["tasks"]["t01"]["runtime"] == "eager" and m["tasks"]["t01"]["kind"] == "encoder"
    assert m["tasks"]["t01"]["base"] == "folder:bases/tiny-bert"  # which encoder base the classifier needs
    # the rollback: every task on the LLM
    rollback = yaml.safe_load((out / "routing.all-llm.yaml").read_text())
    assert rollback["tasks"] and all(t["route"] == "llm" for t in rollback["tasks"].values())
    assert yaml.safe_load((out / "artifacts" / "routing.yaml").read_text()) == eng.artifacts.read("routing_policy")
    # requirements pinned to this environment
    reqs = [ln for ln in (out / "requirements.txt").read_text().splitlines() if ln and not ln.startswith(("#", "-"))]
    assert reqs and all("==" in ln for ln in reqs)
    names = {ln.split("==")[0] for ln in reqs}
    assert {"torch", "transformers", "onnxruntime", "starlette", "uvicorn", "prometheus-client", "fde-toolkit"} <= names
    from importlib.metadata import version

    assert f"torch=={version('torch')}" in reqs
    # the runbook
    runbook = (out / "RUNBOOK.md").read_text()
    assert "fde serve . --host 127.0.0.1 --port 8123" in runbook
    assert "cp routing.all-llm.yaml artifacts/routing.yaml" in runbook
    assert "http://127.0.0.1:8123/health" in runbook and "http://127.0.0.1:8123/metrics" in runbook
    assert "FDE_SERVE_API_KEY" in runbook and "FDE_PII_KEY" in runbook
    assert "data/served" in runbook and "fde drift" in runbook and "--logs" in runbook
    assert "Not measured" in runbook and "no vLLM path" in runbook
    serve = yaml.safe_load((out / "serve.yaml").read_text())
    assert serve["serve"]["port"] == 8123 and serve["tasks"]["t01"]["runtime"] == "eager"
    # fresh: skipped; a changed file is caught and rewritten
    assert bundle(eng, out=out).skipped
    (out / "RUNBOOK.md").write_text("tampered")
    assert verify(out) == ["RUNBOOK.md"]
    again = bundle(eng, out=out)
    assert not again.skipped and verify(out) == []


def test_bundle_ships_the_recommended_runtime(eng, tmp_path):
    t = synthetic_task()
    write_hardening(eng, synthetic_hardening({"t01": t}))
    converted = eng.artifacts.path("runtime_model", "t01", "onnx")
    try:
        # what the onnx runtime's conversion leaves (the bundle copies the folder as it is)
        converted.mkdir(parents=True)
        (converted / "model.onnx").write_bytes(b"onnx-bytes")
        (converted / "fingerprint.json").write_text("{}")
        result = bundle(eng, out=tmp_path / "deploy")
        out = tmp_path / "deploy"
        assert "Warning" not in str(result) and "runtime onnx" in str(result)
        assert (out / "artifacts/models/t01/runtime/onnx/model.onnx").read_bytes() == b"onnx-bytes"
        assert (out / "artifacts/models/t01/adapter/head.safetensors").is_file()  # the eager one too
        assert (out / "artifacts/hardening.json").is_file()
        serve = yaml.safe_load((out / "serve.yaml").read_text())["tasks"]["t01"]
        assert serve["runtime"] == "onnx" and serve["model"] == "artifacts/models/t01/runtime/onnx"
        runbook = (out / "RUNBOOK.md").read_text()
        assert "| t01 | onnx | 1 |" in runbook and "PASS" in runbook and "SLA checks" in runbook
        assert "477.0 ms" in runbook  # the LLM's logged p50 beside the specialist's

        # recommended but not converted: the eager specialist, with a warning
        shutil.rmtree(converted)
        result = bundle(eng, out=tmp_path / "deploy2")
        assert "recommends onnx" in str(result) and "is missing" in str(result)
        assert _manifest(tmp_path / "deploy2")["tasks"]["t01"]["runtime"] == "onnx"
        assert not (tmp_path / "deploy2" / "artifacts/models/t01/runtime").exists()
    finally:
        shutil.rmtree(converted.parent, ignore_errors=True)
        eng.artifacts.path("hardening").unlink()


def _asked(example: dict) -> list[dict]:
    return [m for m in example["messages"] if m["role"] != "assistant"]


def test_the_bundle_serves_and_rolls_back(eng, tmp_path, monkeypatch):
    """The router loads from the bundle alone (another folder, the engagement's base folder gone from reach)."""
    from fde_toolkit.routing.router import Router

    out = tmp_path / "deploy"
    bundle(eng, out=out)
    monkeypatch.chdir(out)
    monkeypatch.setenv("FDE_PII_KEY", secrets.token_hex(32))
    shipped = Engagement.load(".")
    test = eng.artifacts.read("split", "t01", "test")[:4]

    def llm(request):
        return {"id": "x", "object": "chat.completion", "model": "llm",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "LLM"}, "finish_reason": "stop"}]}

    router = Router.from_engagement(shipped, client=llm, embedder=hash_embedder)
    routes = []
    for ex in test:
        reply = router.complete({"model": "gpt-4o", "messages": _asked(ex)})
        routes.append(reply["fde_route"]["route"])
        if reply["fde_route"]["route"] == "slm":
            assert reply["choices"][0]["message"]["content"] == ex["target"]
    assert "slm" in routes
    shutil.copy(out / "routing.all-llm.yaml", out / "artifacts" / "routing.yaml")
    router = Router.from_engagement(Engagement.load("."), client=llm, embedder=hash_embedder)
    reply = router.complete({"model": "gpt-4o", "messages": _asked(test[0])})
    assert reply["fde_route"]["route"] == "llm" and reply["choices"][0]["message"]["content"] == "LLM"


def test_fde_bundle_command(eng, tmp_path, monkeypatch, capsys):
    from fde_toolkit.cli import main

    monkeypatch.setattr(sys, "argv", ["fde", "bundle", str(eng.root), "--out", str(tmp_path / "b")])
    with pytest.raises(SystemExit) as e:
        main()
    out = capsys.readouterr()
    assert e.value.code in (0, None), out.err
    assert "Bundle written to" in out.out and "fde serve ." in out.out and (tmp_path / "b" / "bundle.json").is_file()


def test_decoder_bundle_ships_the_peft_adapter_and_the_vllm_command(tmp_path):
    ft = {"dataset": {"max_test": 4, "max_val": 4}, "train": {"budget_minutes": None, "eval_every": 2}}
    eng = toy_engagement(tmp_path / "acme", n=60, candidate_folder=save_toy_candidate(tmp_path / "toy"), finetune=ft)
    build_dataset(eng, "t01")
    finetune(eng, "t01", max_steps=2)
    # the policy `fde route` would write for a routed decoder task (routing itself is tested elsewhere)
    eng.artifacts.write("routing_policy", {
        "version": 1, "engagement": "acme", "confidence": 0.95, "max_input_chars": 32000,
        "task_index": "router/task_index",
        "tasks": {"t01": {"route": "slm", "reason": "", "specialist": "toy", "kind": "decoder",
                          "output_kind": "label", "model": "models/t01", "signal": "token_min", "threshold": -0.5,
                          "target": 0.9},
                  "t02": {"route": "llm", "reason": "no specialist", "specialist": None, "output_kind": "json",
                          "target": 0.98}}})
    index = eng.artifacts.path("task_index")
    index.mkdir(parents=True)
    (index / "index.json").write_text("{}")
    out = tmp_path / "deploy"
    bundle(eng, out=out)
    adapter = out / "artifacts/models/t01/adapter"
    assert (adapter / "adapter_config.json").is_file() and (adapter / "adapter_model.safetensors").is_file()
    assert not (out / "artifacts/models/t01/checkpoints").exists()  # training checkpoints stay behind
    rank = json.loads((adapter / "adapter_config.json").read_text())["r"]
    runbook = (out / "RUNBOOK.md").read_text()
    assert "vllm serve bases/toy \\\n" in runbook and "--enable-lora" in runbook
    assert "--lora-modules t01=artifacts/models/t01/adapter" in runbook
    assert f"--max-lora-rank {max(8, 1 << (rank - 1).bit_length())}" in runbook and "no vLLM path" not in runbook
    assert "goes to the LLM:\n\n- no specialist: t02" in runbook
    m = _manifest(out)
    assert m["tasks"]["t01"]["kind"] == "decoder" and m["on_llm"] == ["t02"] and verify(out) == []
