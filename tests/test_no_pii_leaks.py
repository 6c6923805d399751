"""End to end: PII canaries in every field type never reach anything past the scrub step.

The canary engagement (the demo customer's logs plus calls holding the canaries in system prompts,
user messages, responses, nested tool arguments, tool results, metadata, user ids and error text, and
a routing step whose every call holds them) goes through every phase: ingest, scrub, profile,
discover, a dataset for every SLM candidate task, a fine-tune (2 steps of a tiny random Llama) and an
evaluation of the routing task, the ROI, then every phase report and the executive slides. Every
file under artifacts/ and reports/ (and manifest.json) is then searched for every canary.
calls.parquet is the S1 table, the input of S2, and holds the customer's raw text by design: it is
the one file skipped. Every HTML report must also open offline (no external script or stylesheet).
"""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import polars as pl
import pytest

from fde_toolkit.engagement import new_engagement
from fde_toolkit.logs.ingest import ingest
from fde_toolkit.logs.profile import profile
from fde_toolkit.privacy import scrub
from fde_toolkit.reports.runner import run_phases
from fde_toolkit.synth import write_demo_logs

EMAIL = "canary.ethelwyn@example.org"
PHONE = "(415) 839-2274"
CARD = "4539 1488 0343 6467"
SSN = "536-22-8411"
IBAN = "DE89 3704 0044 0532 0130 00"
POLICY = "NWM-777-314159"
SECRET = "sk-proj-Zq8vR2mT5wX9yB3nK7pL4sD6fG1hJ0aC"
PERSON = "Margaret Thompson"

# every form a canary could take once copied around: as written, and with spaces/dashes removed
CANARIES = {EMAIL, PHONE, CARD, SSN, IBAN, POLICY, SECRET, PERSON,
            CARD.replace(" ", ""), IBAN.replace(" ", ""), "4158392274", SECRET[8:]}


def _pair(i: int, messages: list[dict], response: dict | None, **extra) -> bytes:
    rec = {
        "timestamp": f"2026-09-0{1 + i % 5}T10:00:0{i % 10}Z",
        "request": {"model": "gpt-4o-mini-2024-07-18", "messages": messages, "user": EMAIL,
                    "metadata": {"session_id": f"canary-{i}", "customer_email": EMAIL, "note": f"card {CARD}"}},
        "response": response,
        "latency_ms": 420.0 + i,
        **extra,
    }
    return orjson.dumps(rec)


def _completion(i: int, content: str | None = None, tool_calls: list | None = None) -> dict:
    msg = {"role": "assistant", "content": content}
    if tool_calls:
        msg["tool_calls"] = tool_calls
    return {"id": f"chatcmpl-canary{i}", "object": "chat.completion", "created": 1788220979 + i,
            "model": "gpt-4o-mini-2024-07-18", "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150}}


def _canary_log() -> bytes:
    system = {"role": "system", "content": f"You help Northwind Mutual customers. Escalations go to {EMAIL}."}
    user = {"role": "user", "content": (
        f"Hi, my name is {PERSON}. My policy is {POLICY}, call me on {PHONE} or write to {EMAIL}. "
        f"I paid with card {CARD}, my SSN is {SSN} and refunds go to IBAN {IBAN}. "
        f"Our integration key is {SECRET}.")}
    tool_call = [{"id": "call_1", "type": "function", "function": {
        "name": "update_contact",
        "arguments": json.dumps({"policy_number": POLICY, "customer": {"email": EMAIL, "phone": PHONE},
                                 "payment": {"card": CARD}})}}]
    tool_result = {"role": "tool", "tool_call_id": "call_1",
                   "content": json.dumps({"status": "ok", "ssn_on_file": SSN, "holder": PERSON})}
    lines = [
        _pair(1, [system, user], _completion(1, content=f"Thanks {PERSON}, I have noted {PHONE} for {POLICY}.")),
        _pair(2, [system, user], _completion(2, tool_calls=tool_call)),
        _pair(3, [system, user, {"role": "assistant", "content": None, "tool_calls": tool_call}, tool_result],
              _completion(3, content=f"Your contact details are updated, {PERSON}.")),
        _pair(4, [system, user], None, error={"type": "invalid_request_error", "code": 400,
                                              "message": f"Invalid recipient {EMAIL} for policy {POLICY}"}),
    ]
    return b"\n".join(lines) + b"\n"


def _text_of(path: Path) -> str:
    if path.suffix == ".parquet":
        df = pl.read_parquet(path)
        return "\n".join(str(v) for col in df.columns for v in df[col].to_list())
    return path.read_bytes().decode("utf-8", errors="replace")


# ----------------------------------------------------------------------------- every phase, the slides included

ROUTE_SYSTEM = "Route the customer message to one queue. Answer with the queue label only."
ROUTES = {  # label -> requests of that kind; each call also carries every canary
    "update_contact": ["Please update my contact details.", "I moved, change my phone number on file.",
                       "Change the email address you have for me.", "My contact information is out of date."],
    "refund": ["I want my premium refunded.", "Please send the refund for the double charge.",
               "You charged my card twice, refund it.", "Where is the refund you promised me?"],
    "cancel_policy": ["Cancel my policy at the end of the month.", "I no longer need this cover, cancel it.",
                      "Please stop my policy and close the account.", "Terminate my insurance today."],
}
OPENERS = ["Hello.", "Good morning.", "Hi there."]
# fine-tuning settings that keep the toy specialist to seconds
FINETUNE = {"dataset": {"max_val": 4, "max_test": 4},
            "train": {"lr": 0.02, "max_steps": 2, "eval_every": 1, "checkpoint_every": 2, "warmup_steps": 0,
                      "budget_minutes": None, "patience": 0, "threads": 1, "batch_size": 8},
            "evaluate": {"max_examples": 4, "latency_examples": 1, "max_new_tokens": 8, "shots": 1}}


def _routing_log(first: int) -> bytes:
    """A label task (36 distinct requests, 3 labels) whose every request and metadata holds the canaries,
    so discovery makes it an SLM candidate and its dataset, model and evaluation see scrubbed PII."""
    system = {"role": "system", "content": ROUTE_SYSTEM}
    lines, i = [], first
    for label, requests in ROUTES.items():
        for opener in OPENERS:
            for request in requests:
                user = {"role": "user", "content": (
                    f"{opener} My name is {PERSON} and my policy is {POLICY}. {request} "
                    f"Call me on {PHONE} or write to {EMAIL}. Card {CARD}, SSN {SSN}, IBAN {IBAN}, key {SECRET}.")}
                lines.append(_pair(i, [system, user], _completion(i, content=label)))
                i += 1
    return b"\n".join(lines) + b"\n"


def _scan(eng, skip: set[Path]) -> tuple[list[Path], list[str]]:
    """Every file under artifacts/ and reports/ (and the manifest), and the canaries found in them."""
    files = [p for folder in (eng.artifacts_dir, eng.reports_dir) for p in folder.rglob("*") if p.is_file()]
    files = sorted(p for p in files + [eng.root / "manifest.json"] if p not in skip)
    hits = [f"{p.relative_to(eng.root)}: {c!r}" for p in files for c in CANARIES if c in _text_of(p)]
    return files, hits


@pytest.mark.slow
def test_canaries_never_reach_any_phase_or_the_slides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ingest -> scrub -> profile -> discover -> dataset -> fine-tune -> evaluate -> ROI -> every phase
    report and the executive slides, on a log whose SLM candidate task carries the canaries in every call:
    no canary in any artifact or report, and every HTML report opens offline."""
    import yaml
    from slm_toy import hash_embedder, save_toy_candidate

    from fde_toolkit.engagement import Engagement
    from fde_toolkit.reports.export import EXTERNAL_ASSET, REVEAL_DIR
    from fde_toolkit.roi import roi
    from fde_toolkit.slm import build_dataset, finetune
    from fde_toolkit.slm.evaluation import evaluate
    from fde_toolkit.tasks import discover

    logs = tmp_path / "logs"
    write_demo_logs(logs, n_calls=150, days=3, seed=3, bad_records=False, otel_share=0.0)
    (logs / "canary.jsonl").write_bytes(_canary_log() + _routing_log(first=10))
    root = new_engagement(tmp_path / "acme", logs=logs, client="Canary Test Co").root
    cfg = yaml.safe_load((root / "engagement.yaml").read_text())
    cfg["pii"].update(ner=True, vault=True, pseudonymize_ids=["user_id"],
                      patterns=[{"name": "POLICY_NUMBER", "regex": r"NWM-\d{3}-\d{6}"}])
    toy = save_toy_candidate(tmp_path / "toy", extra_words=sorted(ROUTES))
    cfg["candidates"] = [{"id": "toy", "folder": str(toy), "params_m": 0.1, "context_length": 256}]
    cfg["finetune"] = FINETUNE
    cfg["roi"]["monte_carlo"]["samples"] = 200
    (root / "engagement.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("FDE_PII_KEY", "9f1c2e7a4b6d8f0a1c3e5a7b9d1f3e5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d")
    eng = Engagement.load(root)

    ingest(eng)
    assert all(c in _text_of(eng.artifacts_dir / "calls.parquet") for c in (EMAIL, CARD, SSN, IBAN, POLICY, PERSON))
    scrub(eng)
    profile(eng)
    tasks = discover(eng, embedder=hash_embedder)

    # the routing calls form one SLM candidate task with three labels
    curated = pl.read_parquet(eng.artifacts_dir / "curated.parquet", columns=["call_id", "messages"])
    routing = curated.filter(pl.col("messages").list.first().struct.field("content") == ROUTE_SYSTEM)["call_id"]
    assert routing.len() == 36
    assigned = pl.read_parquet(eng.artifacts_dir / "tasks.parquet").filter(pl.col("call_id").is_in(routing.implode()))
    assert assigned["task_id"].n_unique() == 1
    task_id = assigned["task_id"][0]
    task = next(t for t in tasks["tasks"] if t["id"] == task_id)
    assert task.get("candidate") and task_id in tasks["candidates"], task
    assert task["output_kind"] == "label"

    info = build_dataset(eng, task_id)
    assert info["output_kind"] == "label" and info["labels"] == sorted(ROUTES)
    tr = finetune(eng, task_id, max_steps=2)
    assert tr["result"]["steps"] == 2 and tr["candidate"]["id"] == "toy"
    rep = evaluate(eng, task_id, embedder=hash_embedder)
    assert set(rep["variants"]) == {"base", "few_shot", "fine_tuned"} and rep["examples"] > 0
    data = roi(eng)
    assert data["status"] == "complete" and data["tasks"] == [task_id]
    written = run_phases(eng)  # every phase notebook, then the executive summary slides

    reports = eng.reports_dir
    slides = reports / "executive_summary.slides.html"
    assert slides in written
    for phase in ("01_scoping", "02_prototyping", "04_handover"):
        assert reports / f"{phase}.html" in written and reports / f"{phase}.ipynb" in written
    ds, mdir = eng.artifacts_dir / "datasets" / task_id, eng.artifacts_dir / "models" / task_id
    produced = [ds / "train.jsonl", ds / "test.jsonl", ds / "openai_train.jsonl", ds / "dataset.json",
                mdir / "adapter" / "adapter_model.safetensors", mdir / "model_card.md", mdir / "training.json",
                eng.artifacts_dir / "eval" / f"{task_id}.json", eng.artifacts_dir / "eval" / f"{task_id}_predictions.jsonl",
                eng.artifacts_dir / "tasks.json", eng.artifacts_dir / "roi.json", slides]
    assert [p for p in produced if not p.is_file()] == []
    # the scrubbed PII really reached the dataset: its requests hold placeholders where the canaries were
    train_text = (ds / "train.jsonl").read_text(encoding="utf-8")
    assert "My name is" in train_text and "Card" in train_text

    steps = json.loads((root / "manifest.json").read_text())["steps"]
    for step in ("ingest", "scrub", "profile", "discover", f"dataset:{task_id}", f"finetune:{task_id}",
                 f"evaluate:{task_id}", "roi", "report:01_scoping", "report:02_prototyping", "report:04_handover",
                 "report:executive_summary"):
        assert step in steps, (step, sorted(steps))

    # no canary anywhere past S2 (calls.parquet is S2's input, by design the customer's raw text)
    files, hits = _scan(eng, skip={eng.artifacts_dir / "calls.parquet"})
    assert {p.name for p in files} >= {"train.jsonl", "openai_train.jsonl", "model_card.md", f"{task_id}.json",
                                       "roi.json", "executive_summary.slides.html", "04_handover.ipynb"}
    assert not hits, "PII canaries leaked:\n" + "\n".join(hits)

    # every report opens offline: no external script or stylesheet, reveal.js inline in the slides
    htmls = sorted(reports.glob("*.html"))
    assert len(htmls) == 4
    external = {p.name: EXTERNAL_ASSET.findall(p.read_text(encoding="utf-8")) for p in htmls}
    assert not any(external.values()), external
    deck = slides.read_text(encoding="utf-8")
    reveal_banner = (REVEAL_DIR / "reveal.js").read_text(encoding="utf-8").splitlines()[1].strip()
    assert reveal_banner in deck and "Reveal.initialize(" in deck
