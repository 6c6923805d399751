"""Task discovery mechanics on a small synthetic customer, with a cheap deterministic fake embedder.

The fixture has the demo customer's kinds of step: intent triage (labels), JSON extraction, tool
calls, policy Q&A over retrieved passages (short text), claim summaries, and an open-ended tail of
four kinds of request behind one generic prompt. Quality with the real model is tested elsewhere.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement
from fde_toolkit.logs.schema import conform
from fde_toolkit.tasks import TasksConfig, discover, discover_tasks, render_tasks
from fde_toolkit.tasks.config import tasks_config


class BagOfWords:
    """Hashed bag of words: texts sharing words get close vectors. Counts what it embeds."""

    cache_key = "bag-of-words-test"

    def __init__(self, dim: int = 96):
        self.dim, self.calls, self.texts = dim, 0, 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        self.texts += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in re.findall(r"[a-z_]+", t.lower()):
                out[i, int.from_bytes(hashlib.blake2b(w.encode(), digest_size=4).digest(), "little") % self.dim] += 1
        out[:, 0] += 0.01
        return out


LABELS = ["claim_status", "file_new_claim", "cancel_policy", "payment_issue", "roadside_assistance",
          "update_contact", "complaint", "document_upload", "fraud_report", "speak_to_agent", "policy_details",
          "change_coverage"]
TAIL = {
    "letter": ("Draft a denial letter to the insured explaining the exclusion and appeal rights",
               "Dear insured, we reviewed your claim carefully and the policy language excludes "),
    "estimates": ("Compare these two repair estimates line by line and advise which shop to approve",
                  "Estimate A totals more than estimate B because of labor hours; approve "),
    "fraud": ("Review this file for fraud indicators and say whether to refer it to the investigations unit",
              "Several indicators stand out: late reporting, recent policy binding, and "),
    "reserve": ("Recommend an initial reserve split between indemnity and expense with assumptions",
                "Set indemnity at the estimate plus contingency; expense covers appraisal and "),
}
TOPICS = ["hail damage", "a cracked windshield", "a stolen bike", "mold", "a dog bite", "a fallen tree", "a burst pipe",
          "towing", "a rental car", "jewelry theft", "an earthquake", "flood water", "a kitchen fire", "vandalism",
          "a deer strike", "a lost phone", "identity theft", "roof leaks", "a power surge", "frozen food"]
NOTE_WORDS = ["urgent", "second review", "photos attached", "see notes", "late report", "rental car", "tow bill",
              "supervisor asked", "policy renewed", "two vehicles", "water", "glass", "roof", "theft"]
PASSAGES = [f"[fact{i}] Coverage for {TOPICS[i]} pays up to a limit of {100 * i} dollars per loss." for i in range(20)]


def synthetic_calls(seed: int = 3) -> tuple[pl.DataFrame, dict[str, str]]:
    """(canonical calls, call_id -> seeded task type)."""
    r = random.Random(seed)
    rows, truth = [], {}

    def add(kind: str, system: str | None, user: str, response: str | None = None, tool: tuple | None = None,
            tools: str | None = None, out_tokens: int | None = None, status: str = "ok", workload: str | None = None):
        i = len(rows)
        cid = f"call-{i:05d}"
        msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
        rows.append({
            "call_id": cid, "model": r.choice(["gpt-4o", "gpt-4o-mini"]), "messages": msgs, "tools": tools,
            "response_text": response if status == "ok" else None,
            "tool_calls": [{"name": tool[0], "arguments": tool[1]}] if tool and status == "ok" else [],
            "input_tokens": len(user) // 4 + 20, "latency_ms": 200.0 + r.random() * 800,
            "output_tokens": (out_tokens or (len(response or "") // 4 + 1)) if status == "ok" else 0,
            "cost_usd": 0.0001 * (1 + len(user) / 100), "status": status, "workload_id": workload})
        truth[cid] = kind

    triage_sys = "You are the intake router for Acme Insurance. Answer with one intent label: " + ", ".join(LABELS)
    for i in range(360):
        lab = LABELS[i % len(LABELS)]
        words = lab.replace("_", " ")
        user = f"{r.choice(['Hi', 'Hello', 'Hey'])}, question about {words} for claim CLM-{r.randint(10**6, 10**7)} " \
               f"on policy NWM-{r.randint(100, 999)}-{r.randint(10**5, 10**6)}, {words} please"
        add("triage", triage_sys, user, lab, status="error" if i % 40 == 0 else "ok")
    extract_sys = "You extract first notice of loss fields. Return JSON with keys policy_number, incident_date, amount."
    for i in range(150):
        user = (f"FNOL message: my car was damaged on 2026-0{1 + i % 9}-1{i % 10} near exit {i}, "
                f"cost about ${r.randint(500, 9000)}")
        add("extraction", extract_sys, user, json.dumps({"policy_number": f"NWM-{i}", "incident_date": "2026-01-01",
                                                         "amount": r.randint(500, 9000)}))
    tool_sys = "You are the claims service agent. Call exactly one tool with arguments from the message."
    tools = json.dumps([{"type": "function", "function": {"name": n, "parameters": {}}}
                        for n in ("lookup_policy", "get_claim_status")])
    for i in range(150):
        name = "lookup_policy" if i % 2 else "get_claim_status"
        what = "my policy details" if i % 2 else "where my claim stands"
        user = f"Please check {what} reference {r.randint(1000, 9999)}"
        add("tools", tool_sys, user, None, tool=(name, json.dumps({"id": f"X-{i}"})), tools=tools)
    for i in range(200):
        ids = r.sample(range(20), 3)
        qa_sys = ("You are the policy assistant. Answer in one or two sentences using only these excerpts:\n"
                  + "\n".join(PASSAGES[j] for j in ids))
        user = f"Is {TOPICS[ids[0]]} covered and what is the limit for it?"
        add("qa", qa_sys, user, f"Yes, {TOPICS[ids[0]]} is covered up to {100 * ids[0]} dollars per loss.")
    summary_sys = "Summarize the claim file for the adjuster handoff in two to four plain sentences."
    for i in range(150):
        loss = TOPICS[i % 20]
        user = (f"Claim file: insured reported {loss} on 2026-02-{10 + i % 18}. "
                f"Estimate ${r.randint(1000, 20000)}. Adjuster note {i}: photos received, inspection pending.")
        add("summary", summary_sys, user, f"The insured reported {loss}; the estimate is noted and the next step "
                                          f"is the {r.choice(['inspection', 'estimate review', 'payment'])}.",
            out_tokens=70)
    tail_sys = "You are an expert claims assistant. Give thorough, well-reasoned answers."
    for i in range(200):
        kind = list(TAIL)[i % 4]
        ask, answer = TAIL[kind]
        add(f"tail:{kind}", tail_sys, f"{ask}. Claim CLM-{r.randint(10**6, 10**7)}: "
            + " ".join(r.sample(NOTE_WORDS, 3)) + ".",
            answer + " ... " + " ".join(r.choice(["details", "coverage", "amount", "review", "note"])
                                        for _ in range(40)),
            out_tokens=300 + r.randint(0, 400))
    schema = {"messages": pl.List(pl.Struct({"role": pl.String, "content": pl.String})),
              "tool_calls": pl.List(pl.Struct({"name": pl.String, "arguments": pl.String})), "tools": pl.String,
              "response_text": pl.String, "workload_id": pl.String}
    calls = conform(pl.DataFrame(rows, schema_overrides=schema)
                    .with_columns(pl.lit("2026-03-01T00:00:00").str.to_datetime(time_zone="UTC").alias("timestamp")))
    return calls, truth


@pytest.fixture(scope="module")
def run() -> tuple[pl.DataFrame, dict, dict[str, str], BagOfWords]:
    calls, truth = synthetic_calls()
    emb = BagOfWords()
    assignments, tasks = discover_tasks(calls, TasksConfig(seed=5), emb)
    return assignments, tasks, truth, emb


def _truth_frame(truth: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame({"call_id": list(truth), "kind": list(truth.values())})


def test_each_step_is_found_and_the_tail_splits_by_request(run) -> None:
    assignments, tasks, truth, _ = run
    assert assignments.height == len(truth) and assignments["task_id"].null_count() == 0
    j = assignments.join(_truth_frame(truth), on="call_id")
    j = j.with_columns(pl.col("kind").str.split(":").list.first().alias("type"))
    per_task = j.group_by("task_id").agg(pl.col("type").n_unique().alias("types"))
    assert per_task["types"].max() == 1  # every task is pure
    per_type = j.group_by("type").agg(pl.col("task_id").n_unique().alias("tasks"))
    got = dict(zip(per_type["type"], per_type["tasks"]))
    # closed steps and short-text steps are one task each; the RAG prompts are one step
    assert {k: got[k] for k in ("triage", "extraction", "tools", "qa", "summary")} == dict.fromkeys(
        ("triage", "extraction", "tools", "qa", "summary"), 1)
    assert got["tail"] >= 4
    # every kind of tail request is mostly in tasks of its own
    tail = j.filter(pl.col("type") == "tail").group_by("task_id", "kind").len()
    purity = tail.group_by("task_id").agg((pl.col("len").max() / pl.col("len").sum()).alias("p"))
    assert purity["p"].min() >= 0.9
    kinds = {t["output_kind"] for t in tasks["tasks"]}
    assert {"label", "json", "tool_call", "short_text", "long_text"} <= kinds
    split = [s for s in tasks["steps"] if s["split_by_request"]]
    assert len(split) == 1 and split[0]["curve"] and split[0]["k"] == got["tail"]
    assert all({"k", "silhouette"} <= set(c) for c in split[0]["curve"])


def test_names_terms_and_figures_per_task(run) -> None:
    _, tasks, _, _ = run
    by_kind = {t["output_kind"]: t for t in tasks["tasks"]}
    assert by_kind["label"]["name"].startswith("classify (12 labels): ")
    assert by_kind["json"]["name"].startswith("extract JSON: ")
    assert set(by_kind["json"]["json_keys"]) == {"policy_number", "incident_date", "amount"}
    assert by_kind["tool_call"]["name"] in ("tool: get_claim_status / lookup_policy",
                                            "tool: lookup_policy / get_claim_status")
    for t in tasks["tasks"]:
        assert t["top_terms"] and t["representatives"]
        assert 0 < t["volume_share"] <= 1 and t["latency_ms"]["p50"] <= t["latency_ms"]["p95"]
        assert t["models"] and sum(m["calls"] for m in t["models"]) == t["calls"]
        assert all(r["request"] and r["similarity"] <= 1.0 for r in t["representatives"])
    assert abs(sum(t["volume_share"] for t in tasks["tasks"]) - 1) < 1e-6
    assert abs(sum(t["cost_share"] for t in tasks["tasks"]) - 1) < 1e-6
    assert by_kind["label"]["error_rate"] > 0
    letter = [t for t in tasks["tasks"] if "appeal" in " ".join(t["top_terms"]) or "denial" in " ".join(t["top_terms"])]
    assert letter, [t["top_terms"] for t in tasks["tasks"]]
    table = render_tasks(tasks)
    for t in tasks["tasks"]:
        assert t["id"] in table


def test_readiness_ranks_structured_steps_and_never_the_open_ended_tail(run) -> None:
    _, tasks, _, _ = run
    by_id = {t["id"]: t for t in tasks["tasks"]}
    tail = [t for t in tasks["tasks"] if t["output_kind"] == "long_text"]
    assert tail and all(not t["candidate"] and t["id"] not in tasks["candidates"] for t in tail)
    assert all(t["readiness"]["score"] < 0.55 for t in tail)
    assert any(r.startswith("- long open-ended outputs") for r in tail[0]["readiness"]["reasons"])
    label = next(t for t in tasks["tasks"] if t["output_kind"] == "label")
    assert label["candidate"] and label["readiness"]["score"] > 0.8
    assert any(r.startswith("+ structured output: labels (12 distinct)") for r in label["readiness"]["reasons"])
    assert label["determinism"] is None or label["determinism"] > 0.9
    ranks = [by_id[c]["rank"] for c in tasks["candidates"]]
    assert ranks == list(range(1, len(ranks) + 1))
    prio = [by_id[c]["priority"] for c in tasks["candidates"]]
    assert prio == sorted(prio, reverse=True)
    for t in tasks["tasks"]:  # every call is priced: the share of the bill x readiness, never volume
        assert t["priority_basis"] == "cost_share"
        assert t["priority"] == round(t["cost_share"] * t["readiness"]["score"], 5)
    assert "ranked by the LLM spend they could avoid" in tasks["explanation"]


def test_ids_are_stable_on_rerun_and_row_order(run) -> None:
    assignments, tasks, _, _ = run
    calls, _ = synthetic_calls()
    again_a, again_t = discover_tasks(calls.sample(fraction=1.0, shuffle=True, seed=11), TasksConfig(seed=5),
                                      BagOfWords())
    left = assignments.sort("call_id")
    right = again_a.sort("call_id")
    assert left["task_id"].to_list() == right["task_id"].to_list()
    assert np.allclose(left["distance"].to_numpy(), right["distance"].to_numpy(), atol=1e-4)
    strip = lambda t: {k: v for k, v in t.items() if k not in ("seconds", "timings", "embedding", "map")}  # noqa: E731
    assert json.dumps(strip(tasks), sort_keys=True) == json.dumps(strip(again_t), sort_keys=True)
    ids = [t["id"] for t in tasks["tasks"]]
    calls_by_id = [t["calls"] for t in tasks["tasks"]]
    assert ids == [f"t{i:02d}" for i in range(1, len(ids) + 1)]
    assert calls_by_id == sorted(calls_by_id, reverse=True)


def test_pinned_k_renames_and_merges_are_honoured(run) -> None:
    _, tasks, _, _ = run
    calls, truth = synthetic_calls()
    pinned_a, pinned = discover_tasks(calls, TasksConfig(seed=5, k=7), BagOfWords())
    assert pinned["k"] == 7 and pinned_a["task_id"].n_unique() == 7
    assert [s for s in pinned["steps"] if s["split_by_request"]][0]["k_pinned"]
    a, b = tasks["tasks"][0]["id"], tasks["tasks"][1]["id"]
    cfg = TasksConfig(seed=5, merges=[[a, b]], renames={a: "front door"})
    merged_a, merged = discover_tasks(calls, cfg, BagOfWords())
    ids = {t["id"]: t for t in merged["tasks"]}
    assert b not in ids and ids[a]["name"] == "front door"
    assert ids[a]["calls"] == tasks["tasks"][0]["calls"] + tasks["tasks"][1]["calls"]
    assert merged["k"] == tasks["k"] - 1
    with pytest.raises(FdeError, match="tasks.merges: t99"):
        discover_tasks(calls, TasksConfig(seed=5, merges=[["t01", "t99"]]), BagOfWords())
    with pytest.raises(FdeError, match="tasks.renames: t99"):
        discover_tasks(calls, TasksConfig(seed=5, renames={"t99": "x"}), BagOfWords())
    with pytest.raises(FdeError, match="tasks.k: 3 tasks were pinned"):
        discover_tasks(calls, TasksConfig(seed=5, k=3), BagOfWords())


def test_config_is_validated_with_errors_that_name_the_key() -> None:
    with pytest.raises(FdeError, match=r"tasks\.kk"):
        tasks_config({"kk": 3}, seed=1)
    with pytest.raises(FdeError, match=r"tasks\.merges"):
        tasks_config({"merges": [["t01"]]}, seed=1)
    with pytest.raises(FdeError, match=r"tasks\.renames"):
        tasks_config({"renames": {"claims": "x"}}, seed=1)
    with pytest.raises(FdeError, match="top-level `seed`"):
        tasks_config({"seed": 3}, seed=1)
    cfg = tasks_config({"k": 9, "k_range": [3, 40]}, seed=4)
    assert cfg.k == 9 and cfg.k_range == (3, 40) and cfg.seed == 4


def test_workload_tags_split_a_shared_prompt(tmp_path: Path) -> None:
    rows = []
    for i in range(240):
        tag = "billing-bot" if i % 2 else "claims-bot"
        topic = "refund my premium payment card charge" if i % 2 else "open a new claim for car damage"
        rows.append({"call_id": f"w{i:03d}", "model": "m", "status": "ok",
                     "messages": [{"role": "system", "content": "You are a helpful assistant."},
                                  {"role": "user", "content": f"{topic} number {i}"}],
                     "response_text": "Sure, here is what to do next " * (1 + i % 3), "output_tokens": 20,
                     "workload_id": tag if i % 5 else None, "tool_calls": []})
    calls = conform(pl.DataFrame(rows, schema_overrides={
        "messages": pl.List(pl.Struct({"role": pl.String, "content": pl.String})),
        "tool_calls": pl.List(pl.Struct({"name": pl.String, "arguments": pl.String}))}))
    assignments, tasks = discover_tasks(calls, TasksConfig(), BagOfWords())
    assert len(tasks["steps"]) == 2
    assert {s["workload_tag"] for s in tasks["steps"]} == {"billing-bot", "claims-bot"}
    # untagged calls went to the step of their kind of request
    j = assignments.with_columns((pl.col("call_id").str.slice(1).cast(pl.Int64) % 2).alias("odd"))
    assert j.group_by("odd").agg(pl.col("step_id").n_unique())["step_id"].to_list() == [1, 1]


def test_discover_step_writes_artifacts_and_skips_when_fresh(tmp_path: Path) -> None:
    calls, _ = synthetic_calls()
    root = tmp_path / "acme"
    (root / "artifacts").mkdir(parents=True)
    settings = {"name": "acme", "seed": 5, "tasks": {"renames": {"t01": "intake"}}}
    (root / "engagement.yaml").write_text(yaml.safe_dump(settings))
    calls.write_parquet(root / "artifacts" / "curated.parquet")
    emb = BagOfWords()
    eng = Engagement.load(root)
    tasks = discover(eng, embedder=emb).data
    assert tasks["tasks"][0]["name"] == "intake"
    parquet = pl.read_parquet(eng.artifacts.path("task_assignments"))
    assert parquet.columns == ["call_id", "step_id", "task_id", "distance"] and parquet.height == calls.height
    assert eng.artifacts.tasks()["k"] == tasks["k"]
    rec = eng.manifest.data["steps"]["discover"]
    assert rec["summary"]["tasks"] == tasks["k"] and "artifacts/tasks.json" in rec["outputs"]
    assert any(p.suffix == ".npz" for p in (root / ".cache" / "embeddings").rglob("*"))
    # fresh: skipped, nothing embedded again
    n = emb.texts
    fresh = discover(Engagement.load(root), embedder=emb)
    assert fresh.skipped and fresh.data == eng.artifacts.tasks()
    assert emb.texts == n
    # forced: runs again, every request comes from the cache
    again = discover(Engagement.load(root), force=True, embedder=emb).data
    assert emb.texts == n and again["embedding"]["embedded_now"] == 0 and again["embedding"]["from_cache"] > 0


def test_discover_needs_the_curated_calls(tmp_path: Path) -> None:
    root = tmp_path / "acme"
    root.mkdir()
    (root / "engagement.yaml").write_text("name: acme\n")
    with pytest.raises(FdeError, match="fde scrub"):
        discover(Engagement.load(root), embedder=BagOfWords())


def test_figures_and_explorer_build_from_tasks_json(run) -> None:
    from fde_toolkit.tasks import figures
    from fde_toolkit.tasks.explorer import task_card, task_explorer

    _, tasks, _, _ = run
    tasks = json.loads(json.dumps(tasks))  # as read back from tasks.json
    m = figures.task_map(tasks)
    assert sum(len(tr.x) for tr in m.data) == len(tasks["map"]) > 0
    tree = figures.cost_treemap(tasks)
    assert set(tree.data[0].ids) >= {t["id"] for t in tasks["tasks"]}
    curve = figures.criterion_curve(tasks)
    split = next(s for s in tasks["steps"] if s["curve"])
    assert list(curve.data[0].x) == [c["k"] for c in split["curve"]]
    frame = figures.candidates_frame(tasks)
    assert frame.filter(pl.col("candidate"))["id"].to_list() == tasks["candidates"]
    table = figures.candidate_table(tasks)
    assert list(table.data[0].cells.values[1])[: len(tasks["candidates"])] == tasks["candidates"]
    box = task_explorer(tasks)
    pick, card = box.children
    first = tasks["candidates"][0]
    assert pick.value == first and first in card.value
    other = tasks["tasks"][-1]["id"]
    pick.value = other
    assert card.value == task_card(next(t for t in tasks["tasks"] if t["id"] == other))
    assert "<script" not in card.value


# ----------------------------------------------------------------------------- per-request tool sets

# (name, description, {parameter: JSON type}, the request, values for the first parameter)
FUNCTIONS = [
    ("get_current_weather", "Current weather for a city", {"location": "string", "unit": "string"},
     "What's the weather like in {v} right now?", ["Boston", "Lisbon", "Osaka", "Denver"]),
    ("get_forecast", "Weather forecast for the next days", {"city": "string", "days": "integer"},
     "Will it rain in {v} this week?", ["Oslo", "Lima", "Perth"]),
    ("search_flights", "Search flights between airports", {"origin": "string", "destination": "string",
                                                          "date": "string"},
     "Find me a flight from {v} to Chicago next Friday", ["Seattle", "Miami", "Austin"]),
    ("book_hotel", "Book a hotel room", {"city": "string", "check_in": "string", "nights": "integer"},
     "Book a hotel in {v} for three nights", ["Rome", "Paris", "Vienna"]),
    ("convert_currency", "Convert an amount between currencies", {"amount": "number", "from": "string",
                                                                 "to": "string"},
     "How much is 250 {v} in euros?", ["dollars", "yen", "pounds"]),
    ("get_stock_price", "Latest price of a stock", {"symbol": "string"},
     "What is {v} trading at?", ["AAPL", "MSFT", "NVDA"]),
    ("send_email", "Send an email", {"to": "string", "subject": "string", "body": "string"},
     "Email {v} that the meeting moved to Thursday", ["Dana", "the team", "my manager"]),
    ("create_calendar_event", "Create a calendar event", {"title": "string", "start": "string",
                                                         "duration_minutes": "integer"},
     "Put a {v} on my calendar tomorrow at ten", ["dentist appointment", "team sync", "call with Sam"]),
    ("set_reminder", "Set a reminder", {"text": "string", "time": "string"},
     "Remind me to {v} at six", ["call mom", "water the plants", "pay rent"]),
    ("translate_text", "Translate text", {"text": "string", "target_language": "string"},
     "Translate 'good morning' into {v}", ["Spanish", "German", "Korean"]),
    ("search_recipes", "Find recipes", {"ingredients": "array", "max_minutes": "integer"},
     "Give me a quick recipe with {v}", ["chickpeas", "salmon", "tofu"]),
    ("get_directions", "Route between two places", {"origin": "string", "destination": "string",
                                                   "mode": "string"},
     "How do I get to {v} by bike?", ["the museum", "Central Station", "the airport"]),
    ("find_restaurants", "Restaurants near a place", {"location": "string", "cuisine": "string"},
     "Any good {v} restaurants near me?", ["thai", "ramen", "vegan"]),
    ("play_music", "Play music", {"query": "string", "shuffle": "boolean"},
     "Play some {v}", ["jazz", "Beatles songs", "lo-fi beats"]),
    ("order_pizza", "Order a pizza", {"size": "string", "toppings": "array"},
     "Order a large pizza with {v}", ["mushrooms", "pepperoni", "olives"]),
    ("track_package", "Where a parcel is", {"tracking_number": "string", "carrier": "string"},
     "Where is my {v} package?", ["UPS", "FedEx", "DHL"]),
    ("get_news", "Top headlines", {"topic": "string", "count": "integer"},
     "What's the latest news about {v}?", ["elections", "the World Cup", "AI chips"]),
    ("calculate_mortgage", "Monthly mortgage payment", {"principal": "number", "rate": "number",
                                                       "years": "integer"},
     "What's the monthly payment on a {v} loan at 6%?", ["300k", "450k", "200k"]),
    ("lookup_word", "Dictionary definition", {"word": "string"},
     "What does {v} mean?", ["ephemeral", "laconic", "quixotic"]),
    ("get_exchange_rates", "Exchange rates for a base currency", {"base": "string"},
     "Show me today's exchange rates for the {v}", ["dollar", "franc", "krona"]),
    ("create_todo", "Add a to-do item", {"title": "string", "due": "string"},
     "Add '{v}' to my to-do list", ["renew passport", "buy milk", "file taxes"]),
    ("get_movie_showtimes", "Showtimes at nearby cinemas", {"movie": "string", "location": "string"},
     "When is {v} playing tonight?", ["Dune", "Oppenheimer", "Barbie"]),
    ("check_availability", "Free slots of a person", {"person": "string", "date": "string"},
     "Is {v} free on Tuesday afternoon?", ["Alex", "Priya", "Jordan"]),
    ("query_database", "Run a read-only SQL query", {"sql": "string"},
     "How many {v} signed up last month?", ["customers", "trial users", "partners"]),
    ("get_time_zone", "Local time in a city", {"city": "string"},
     "What time is it in {v}?", ["Tokyo", "Nairobi", "Sydney"]),
    ("search_web", "Search the web", {"query": "string", "num_results": "integer"},
     "Look up reviews of the {v}", ["Pixel 9", "Model Y", "Kindle"]),
    ("rent_car", "Reserve a rental car", {"city": "string", "pickup_date": "string", "car_class": "string"},
     "Rent me an SUV in {v} for the weekend", ["Phoenix", "Dublin", "Calgary"]),
    ("get_sports_scores", "Latest scores", {"team": "string"},
     "Did the {v} win last night?", ["Lakers", "Yankees", "Celtics"]),
    ("control_thermostat", "Set the thermostat", {"temperature": "number", "room": "string"},
     "Set the {v} to 21 degrees", ["living room", "bedroom", "office"]),
    ("get_nutrition_facts", "Nutrition facts of a food", {"food": "string", "grams": "number"},
     "How many calories are in 100 grams of {v}?", ["rice", "almonds", "avocado"]),
]


def per_request_tool_calls(n_sets: int = 50, per_set: int = 3, seed: int = 9, start: int = 0) -> pl.DataFrame:
    """A generic function-calling agent: one prompt, each request offering its own three functions
    (OpenAI schemas), the answer calling one of them. `n_sets` distinct tool sets, `per_set` calls each."""
    r = random.Random(seed)
    sets: list[tuple[int, ...]] = []
    while len(sets) < n_sets:
        s = tuple(sorted(r.sample(range(len(FUNCTIONS)), 3)))
        if s not in sets:
            sets.append(s)
    rows = []
    for k, s in enumerate(sets):
        schemas = [{"type": "function", "function": {
            "name": FUNCTIONS[i][0], "description": FUNCTIONS[i][1],
            "parameters": {"type": "object", "properties": {p: {"type": t} for p, t in FUNCTIONS[i][2].items()},
                           "required": [next(iter(FUNCTIONS[i][2]))]}}} for i in s]
        for j in range(per_set):
            name, _, params, ask, values = FUNCTIONS[s[j % 3]]
            v = r.choice(values)
            rows.append({
                "call_id": f"fc-{start + len(rows):05d}", "model": "gpt-4o",
                "messages": [{"role": "system", "content": "You are a helpful assistant with access to functions. "
                                                           f"Use them when needed. Today is 2026-03-{1 + k % 28:02d}."},
                             {"role": "user", "content": ask.format(v=v)}],
                "tools": json.dumps(schemas), "response_text": None,
                "tool_calls": [{"name": name, "arguments": json.dumps({next(iter(params)): v})}],
                "input_tokens": 180, "output_tokens": 24, "latency_ms": 400.0 + 10 * j, "cost_usd": 0.0004,
                "status": "ok", "workload_id": None})
    schema = {"messages": pl.List(pl.Struct({"role": pl.String, "content": pl.String})),
              "tool_calls": pl.List(pl.Struct({"name": pl.String, "arguments": pl.String})), "tools": pl.String,
              "response_text": pl.String, "workload_id": pl.String}
    return conform(pl.DataFrame(rows, schema_overrides=schema)
                   .with_columns(pl.lit("2026-03-01T00:00:00").str.to_datetime(time_zone="UTC").alias("timestamp")))


def test_a_function_calling_step_over_many_tool_sets_is_one_task(run) -> None:
    _, before, truth, _ = run
    calls, _ = synthetic_calls()
    generic = per_request_tool_calls()
    assert generic["tools"].n_unique() == 50 and generic.height == 150
    assignments, tasks = discover_tasks(pl.concat([calls, generic]), TasksConfig(seed=5), BagOfWords())
    mine = assignments.filter(pl.col("call_id").str.starts_with("fc-"))
    assert mine["task_id"].n_unique() == 1  # not one task per tool set, nor per function
    tid = mine["task_id"][0]
    assert assignments.filter(pl.col("task_id") == tid).height == 150  # and nothing else in it
    task = next(t for t in tasks["tasks"] if t["id"] == tid)
    assert task["output_kind"] == "tool_call" and task["per_request_tools"] and task["tool_sets"] == 50
    assert task["name"].startswith("tool calls over 50 tool sets: ")
    called = set(generic["tool_calls"].list.first().struct.field("name").to_list())
    assert task["n_tools"] == len(called) > 20 and len(task["tools"]) == 20 and set(task["tools"]) <= called
    step = next(s for s in tasks["steps"] if s["id"] in task["steps"])
    assert step["per_request_tools"] and step["tool_sets"] == 50 and len(step["tools_offered"]) == 20
    assert "bring their own tools" in tasks["explanation"]
    from fde_toolkit.tasks.explorer import task_card
    assert f"{len(called)} tools over 50 tool sets" in task_card(task)
    # the step with one fixed tool set is what it was, and so is every other task
    assert tasks["k"] == before["k"] + 1
    fixed = next(t for t in tasks["tasks"] if t["output_kind"] == "tool_call" and t["id"] != tid)
    assert fixed["name"] == next(t["name"] for t in before["tasks"] if t["output_kind"] == "tool_call")
    assert not fixed["per_request_tools"] and fixed["tool_sets"] == 1 and fixed["n_tools"] == 2
    old = assignments.join(_truth_frame(truth), on="call_id").group_by("kind").agg(pl.col("task_id").n_unique())
    assert old.height == len(set(truth.values()))
    again = before["tasks"]
    assert sorted(t["calls"] for t in tasks["tasks"] if t["id"] != tid) == sorted(t["calls"] for t in again)


def test_a_few_fixed_tool_sets_still_split_a_shared_prompt() -> None:
    from fde_toolkit.tasks.steps import per_request_tool_families

    def sig(sizes: list[int]) -> pl.DataFrame:
        return pl.DataFrame({"family": ["f"] * sum(sizes) + ["g"] * 5,
                             "tools": [f"tool_{i}a,tool_{i}b" for i, n in enumerate(sizes) for _ in range(n)]
                             + [""] * 5})

    assert per_request_tool_families(sig([400, 300, 250])) == []  # three agents behind one prompt
    assert per_request_tool_families(sig([40, 30])) == []  # two tool sets never merge for being small
    assert per_request_tool_families(sig([5, 3, 2])) == ["f"]  # most tool sets with few calls
    assert per_request_tool_families(sig([100] * 9)) == ["f"]  # more tool sets than a step would have
    assert per_request_tool_families(sig([500, 400, 3, 2, 1])) == ["f"]  # a long tail of one-off tool sets
