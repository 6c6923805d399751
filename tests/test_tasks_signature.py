"""Task signatures: volatile tokens normalised, prompt-template families, response shapes."""

from __future__ import annotations

import polars as pl

from fde_toolkit.logs.schema import conform
from fde_toolkit.tasks.signature import call_signatures, normalise, template_families


def _calls(rows: list[dict]) -> pl.DataFrame:
    out = []
    for i, r in enumerate(rows):
        msgs = ([{"role": "system", "content": r["system"]}] if r.get("system") else []) + \
               [{"role": "user", "content": r["user"]}]
        out.append({"call_id": f"c{i}", "model": "m", "messages": msgs, "response_text": r.get("response"),
                    "tool_calls": r.get("tool_calls", []), "tools": r.get("tools"), "status": r.get("status", "ok")})
    return conform(pl.DataFrame(out, schema_overrides={
        "messages": pl.List(pl.Struct({"role": pl.String, "content": pl.String})),
        "tool_calls": pl.List(pl.Struct({"name": pl.String, "arguments": pl.String}))}))


def test_calls_differing_only_in_volatile_tokens_share_a_signature() -> None:
    a = ("Hi, claim CLM-48620633 filed 2026-09-01 for $1,250.00 on policy NWM-333-754081, "
         "mail me at jane.doe@example.com or <EMAIL_7f3a91c2>. Ref 3f2b9c1e-1d2a-4c3b-9e8f-0a1b2c3d4e5f at 10:30 am")
    b = ("Hi, claim CLM-11112222 filed March 3, 2025 for $87 on policy NWM-123-000001, "
         "mail me at bob@corp.io or <EMAIL_0bd2e4a1>. Ref 00000000-1111-2222-3333-444444444444 at 4:05 pm")
    na, nb = normalise([a, b])
    assert na == nb
    assert "clm" not in na and "2026" not in na and "jane" not in na and "7f3a" not in na
    # placeholders keep their type, numbers and ids collapse
    assert "<email>" in na and "<id>" in na and "<num>" in na and "<date>" in na and "<time>" in na
    # different words stay different
    assert normalise(["cancel my policy"]) != normalise(["renew my policy"])


def test_call_signatures_per_call() -> None:
    sys_a = "You are the intake router. Today is 2026-09-01. Classify the message."
    sys_b = "You are the intake router. Today is 2026-10-17. Classify the message."
    calls = _calls([
        {"system": sys_a, "user": "Status of claim CLM-1?", "response": "claim_status"},
        {"system": sys_b, "user": "Status of claim CLM-2?", "response": "claim_status"},
        {"system": "Extract JSON.", "user": "x", "response": '{"policy": "P-1", "amount": 3}'},
        {"system": "Agent.", "user": "look up P-1", "tool_calls": [{"name": "lookup_policy", "arguments": "{}"}],
         "tools": '[{"type": "function", "function": {"name": "lookup_policy", "parameters": {}}},'
                  ' {"type": "function", "function": {"name": "get_claim_status", "parameters": {}}}]'},
        {"user": "Write me a long letter", "response": "Dear member,\nThank you for your patience " * 5},
        {"user": "hello", "status": "error"},
    ])
    signatures = call_signatures(calls)
    sig, templates, requests = signatures.calls, signatures.templates, signatures.requests
    assert sig["call_id"].to_list() == [f"c{i}" for i in range(6)]
    assert sig["shape"].to_list() == ["short", "short", "json", "tool_call", "text", "none"]
    # the dated prompts are one template; the two requests are one signature
    assert sig["template_id"][0] == sig["template_id"][1]
    assert sig["req_id"][0] == sig["req_id"][1]
    assert requests.filter(pl.col("req_id") == sig["req_id"][0])["request"].item() == "status of claim <id>?"
    assert sig["label"][0] == "claim_status" and sig["out_h"][0] == sig["out_h"][1]
    assert sig["json_text"][2].startswith("{") and sig["label"][2] is None
    assert sig["tools"][3] == "get_claim_status,lookup_policy"
    assert sig["called_tools"][3] == "lookup_policy"
    assert sig["out_h"][5] is None and sig["status"][5] == "error"
    assert templates.filter(pl.col("template") == "")["calls"].item() == 2  # calls without a system prompt
    assert templates["calls"].sum() == calls.height


def test_template_families_group_retrieved_passages_but_keep_steps_apart() -> None:
    head = "you are the policy assistant. answer using the excerpts below. excerpts:"
    passages = [f"passage{i} about topic{i} with words{i}" for i in range(30)]
    rag = [f"{head} {passages[i % 30]} {passages[(i * 7 + 3) % 30]} {passages[(i * 11 + 5) % 30]}" for i in range(120)]
    preamble = "you are northwind's assistant. be polite."
    steps = [f"{preamble} task: classify the message into a label.",
             f"{preamble} task: extract the claim fields as json.",
             f"{preamble} task: summarize the claim file."]
    df = pl.DataFrame({"template": rag + steps + [""], "calls": [3] * len(rag) + [500, 400, 300, 50]})
    fam = template_families(df)
    assert len({fam[t] for t in rag}) == 1
    assert fam[rag[0]].startswith(head)
    assert len({fam[t] for t in steps}) == 3 and fam[rag[0]] not in {fam[t] for t in steps}
    assert fam[""] == ""
