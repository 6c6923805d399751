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


def _pair(i: int, messages: list[dict], response: dict | None, tools: list | None = None, **extra) -> bytes:
    rec = {
        "timestamp": f"2026-09-0{1 + i % 5}T10:00:0{i % 10}Z",
        "request": {"model": "gpt-4o-mini-2024-07-18", "messages": messages, "user": EMAIL,
                    "metadata": {"session_id": f"canary-{i}", "customer_email": EMAIL, "note": f"card {CARD}"},
                    **({"tools": tools} if tools else {})},
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


# ----------------------------------------------------------------------------- an SLM candidate full of canaries

ROUTE_SYSTEM = "Route the customer message to one queue. Answer with the queue label only."
CONTACT_SYSTEM = "Record the customer's new contact details with the update_contact tool."
ROUTES = {  # label -> requests of that kind
    "update_contact": ["Please update my contact details.", "I moved, change my phone number on file.",
                       "Change the email address you have for me.", "My contact information is out of date."],
    "refund": ["I want my premium refunded.", "Please send the refund for the double charge.",
               "You charged my card twice, refund it.", "Where is the refund you promised me?"],
    "cancel_policy": ["Cancel my policy at the end of the month.", "I no longer need this cover, cancel it.",
                      "Please stop my policy and close the account.", "Terminate my insurance today."],
}
OPENERS = ["Hello.", "Good morning.", "Hi there."]
UPDATE_CONTACT = {"type": "function", "function": {
    "name": "update_contact", "description": "Store a customer's contact details.",
    "parameters": {"type": "object", "properties": {"policy_number": {"type": "string"},
                                                    "customer": {"type": "object"}, "payment": {"type": "object"}}}}}
# fine-tuning settings that keep the toy specialist to seconds
FINETUNE = {"dataset": {"max_val": 4, "max_test": 4},
            "train": {"lr": 0.02, "max_steps": 2, "eval_every": 1, "checkpoint_every": 2, "warmup_steps": 0,
                      "budget_minutes": None, "patience": 0, "threads": 1, "batch_size": 8},
            "evaluate": {"max_examples": 4, "latency_examples": 1, "max_new_tokens": 8, "shots": 1}}


def _candidate_steps_log(first: int) -> bytes:
    """Two steps of 36 distinct requests each whose every call holds the canaries, so discovery makes them
    SLM candidate tasks and their datasets (and the routing task's model and evaluation) see scrubbed PII:
    routing (a label out of three) and a contact update (one tool call with the canaries in nested arguments)."""
    routing, contact = {"role": "system", "content": ROUTE_SYSTEM}, {"role": "system", "content": CONTACT_SYSTEM}
    args = json.dumps({"policy_number": POLICY, "customer": {"name": PERSON, "email": EMAIL, "phone": PHONE},
                       "payment": {"card": CARD, "iban": IBAN}})
    lines, i = [], first
    for label, requests in ROUTES.items():
        for opener in OPENERS:
            for request in requests:
                user = {"role": "user", "content": (
                    f"{opener} My name is {PERSON} and my policy is {POLICY}. {request} "
                    f"Call me on {PHONE} or write to {EMAIL}. Card {CARD}, SSN {SSN}, IBAN {IBAN}, key {SECRET}.")}
                lines.append(_pair(i, [routing, user], _completion(i, content=label)))
                user = {"role": "user", "content": (
                    f"{opener} {request} I am {PERSON}, policy {POLICY}. New phone {PHONE}, new email {EMAIL}, "
                    f"pay with card {CARD} or IBAN {IBAN}.")}
                call = [{"id": f"call_{i}", "type": "function",
                         "function": {"name": "update_contact", "arguments": args}}]
                lines.append(_pair(i + 1, [contact, user], _completion(i + 1, tool_calls=call), tools=[UPDATE_CONTACT]))
                i += 2
    return b"\n".join(lines) + b"\n"


def _task_of(eng, system_prompt: str) -> str:
    """The one task discovery put the calls with this system prompt in."""
    curated = pl.read_parquet(eng.artifacts_dir / "curated.parquet", columns=["call_id", "messages"])
    ids = curated.filter(pl.col("messages").list.first().struct.field("content") == system_prompt)["call_id"]
    assert ids.len() == 36, system_prompt
    assigned = pl.read_parquet(eng.artifacts_dir / "tasks.parquet").filter(pl.col("call_id").is_in(ids.implode()))
    assert assigned.height == 36 and assigned["task_id"].n_unique() == 1, system_prompt
    return assigned["task_id"][0]


@pytest.fixture
def single_threaded():
    """One thread for OpenMP/BLAS (discovery's t-SNE, spaCy) and torch while the steps run in this process:
    on a loaded 2-core machine two spinning OpenMP threads made the t-SNE of discovery 5-30x slower."""
    import torch
    from threadpoolctl import threadpool_limits

    torch_threads = torch.get_num_threads()
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(torch_threads)  # `finetune.train.threads: 1` below sets it process-wide


@pytest.mark.slow
def test_canaries_never_pass_the_scrub_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, single_threaded) -> None:
    """Every phase, the slides included: no canary in any artifact or report, every HTML report offline."""
    import yaml
    from slm_toy import hash_embedder, save_toy_candidate

    from fde_toolkit import FdeError
    from fde_toolkit.engagement import Engagement
    from fde_toolkit.reports.export import EXTERNAL_ASSET, REVEAL_DIR
    from fde_toolkit.roi import roi
    from fde_toolkit.slm import build_dataset, finetune
    from fde_toolkit.slm.evaluation import evaluate
    from fde_toolkit.tasks import discover

    logs = tmp_path / "logs"
    write_demo_logs(logs, n_calls=150, days=3, seed=3, bad_records=True)
    (logs / "canary.jsonl").write_bytes(_canary_log() + _candidate_steps_log(first=10))
    root = new_engagement(tmp_path / "acme", logs=logs, client="Canary Test Co").root
    cfg = yaml.safe_load((root / "engagement.yaml").read_text(encoding="utf-8"))
    cfg["pii"].update(ner=True, vault=True, pseudonymize_ids=["user_id"],
                      patterns=[{"name": "POLICY_NUMBER", "regex": r"NWM-\d{3}-\d{6}"}])
    toy = save_toy_candidate(tmp_path / "toy", extra_words=sorted(ROUTES))  # outside the engagement, no canary
    cfg["candidates"] = [{"id": "toy", "folder": str(toy), "params_m": 0.1, "context_length": 256}]
    cfg["finetune"] = FINETUNE
    cfg["roi"]["monte_carlo"]["samples"] = 200
    (root / "engagement.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    monkeypatch.setenv("FDE_PII_KEY", "9f1c2e7a4b6d8f0a1c3e5a7b9d1f3e5a7c9e1b3d5f7a9c1e3b5d7f9a1c3e5b7d")
    eng = Engagement.load(root)

    totals = ingest(eng).data.to_dict()["totals"]
    assert totals["accepted"] >= 210 and totals["quarantined"] > 0  # the demo logs hold some bad records
    # the canaries really went in: the raw S1 table holds them
    raw_text = _text_of(eng.artifacts_dir / "calls.parquet")
    assert all(c in raw_text for c in (EMAIL, CARD, SSN, IBAN, POLICY, SECRET, PERSON))
    scrub(eng)
    profile(eng)
    tasks = discover(eng, embedder=hash_embedder).data  # a bag-of-words stand-in for MiniLM: seconds

    # the routing calls are one SLM candidate task with three labels, the contact updates one with a tool call
    task_id, contact_id = _task_of(eng, ROUTE_SYSTEM), _task_of(eng, CONTACT_SYSTEM)
    kinds = {t["id"]: t["output_kind"] for t in tasks["tasks"]}
    assert {task_id, contact_id} <= set(tasks["candidates"]), tasks["candidates"]
    assert (kinds[task_id], kinds[contact_id]) == ("label", "tool_call")

    # a dataset for every candidate task with enough distinct examples (milliseconds each); the routing task
    # is fine-tuned and evaluated
    built = []
    for t in tasks["candidates"]:
        try:
            build_dataset(eng, t)
            built.append(t)
        except FdeError as e:  # a candidate of a handful of calls
            assert "too few distinct examples" in str(e), e
    assert {task_id, contact_id} <= set(built)
    assert (json.loads((eng.artifacts_dir / "datasets" / task_id / "dataset.json").read_text())["labels"]
            == sorted(ROUTES))
    tr = finetune(eng, task_id, max_steps=2).data
    assert tr["result"]["steps"] == 2 and tr["candidate"]["id"] == "toy"
    rep = evaluate(eng, task_id, embedder=hash_embedder).data
    assert set(rep["variants"]) == {"base", "few_shot", "fine_tuned"} and rep["examples"] > 0
    data = roi(eng).data
    assert data["status"] == "complete" and data["tasks"] == [task_id]
    written = run_phases(eng)  # phases=None: every phase notebook, then the executive summary slides

    reports, art = eng.reports_dir, eng.artifacts_dir
    slides = reports / "executive_summary.slides.html"
    phases = ["01_scoping", "02_prototyping", "03_hardening", "04_handover"]
    assert set(written) == {reports / f"{p}.{x}" for p in phases for x in ("ipynb", "html")} | {
        reports / "executive_summary.ipynb", slides}
    ds, mdir = art / "datasets" / task_id, art / "models" / task_id
    produced = [ds / "train.jsonl", ds / "val.jsonl", ds / "test.jsonl", ds / "openai_train.jsonl",
                ds / "openai_val.jsonl", art / "datasets" / contact_id / "openai_train.jsonl",
                mdir / "adapter" / "adapter_model.safetensors", mdir / "model_card.md", mdir / "training.json",
                art / "eval" / f"{task_id}.json", art / "eval" / f"{task_id}_predictions.jsonl",
                art / "pii_report.json", art / "profile.json", art / "tasks.json", art / "roi.json", slides]
    assert [p for p in produced if not p.is_file()] == []
    # the dataset holds the routing requests, with placeholders where the canaries were
    train_text = (ds / "train.jsonl").read_text(encoding="utf-8")
    assert "My name is <PERSON_" in train_text and "Card <CARD_" in train_text
    export = (art / "datasets" / contact_id / "openai_train.jsonl").read_text(encoding="utf-8").splitlines()
    call = json.loads(export[0])["messages"][-1]["tool_calls"][0]["function"]  # the OpenAI export's tool call
    args = json.loads(call["arguments"])
    assert call["name"] == "update_contact" and args["customer"]["email"].startswith("<EMAIL_"), args

    steps = json.loads((root / "manifest.json").read_text(encoding="utf-8"))["steps"]
    expected = ["ingest", "scrub", "profile", "discover", f"finetune:{task_id}", f"evaluate:{task_id}", "roi",
                *(f"dataset:{t}" for t in built), *(f"report:{p}" for p in phases),
                "report:executive_summary"]
    assert [s for s in expected if s not in steps] == [], sorted(steps)

    # no canary anywhere past S2: datasets, OpenAI export, adapter, model card, eval, roi.json, figures,
    # executed notebooks, HTML reports, slides, the manifest
    files = [p for folder in (art, reports) for p in folder.rglob("*") if p.is_file()] + [root / "manifest.json"]
    files = sorted(p for p in files if p != art / "calls.parquet")
    assert {p.name for p in files} >= {p.name for p in produced} | {"quarantine.jsonl", "curated.parquet"}
    hits = [f"{p.relative_to(root)}: {c!r}" for p in files for c in CANARIES if c in _text_of(p)]
    assert not hits, "PII canaries leaked:\n" + "\n".join(hits)

    # every report opens offline: no external script or stylesheet; reveal.js is inline in the slides
    htmls = sorted(reports.glob("*.html"))
    assert len(htmls) == 5
    external = {p.name: EXTERNAL_ASSET.findall(p.read_text(encoding="utf-8")) for p in htmls}
    assert not any(external.values()), external
    deck = slides.read_text(encoding="utf-8")
    reveal_banner = (REVEAL_DIR / "reveal.js").read_text(encoding="utf-8").splitlines()[1].strip()
    assert reveal_banner.startswith("* reveal.js") and reveal_banner in deck and "Reveal.initialize(" in deck
