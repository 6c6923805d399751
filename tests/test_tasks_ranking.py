"""SLM candidates ranked by the LLM spend they could avoid (share of the bill x readiness), on hand-made tasks."""

from __future__ import annotations

import copy

from fde_toolkit.tasks.ranking import priority_basis, ranking_note, task_value, value_rank


def _task(tid: str, calls: int, volume: float, cost: float | None, score: float, candidate: bool = True,
          unpriced: int = 0, kind: str = "label") -> dict:
    return {"id": tid, "name": f"task {tid}", "calls": calls, "volume_share": volume, "cost_share": cost,
            "cost_usd": None if cost is None else cost * 10, "unpriced_calls": unpriced, "output_kind": kind,
            "readiness": {"score": score, "reasons": ["+ fine"]}, "candidate": candidate,
            "tokens": {"input_mean": 300.0, "output_mean": 5.0}, "latency_ms": {"p50": 800.0, "p95": 2000.0},
            "error_rate": 0.01, "models": [{"model": "gpt-4o", "calls": calls}], "labels": [], "json_keys": [],
            "tools": [], "determinism": None, "distinct_requests": calls, "steps": ["s1"], "level": "step",
            "top_terms": ["claim"], "representatives": []}


# The demo's five candidates (tasks.json of `make demo`) and one open-ended task holding a big part of the bill.
DEMO = [_task("t01", 7339, 0.36697, 0.05282, 0.941), _task("t02", 3016, 0.15081, 0.01763, 0.776),
        _task("t03", 2977, 0.14886, 0.18719, 0.729), _task("t04", 2479, 0.12396, 0.0545, 0.99),
        _task("t05", 1845, 0.09225, 0.06314, 0.907),
        _task("t06", 476, 0.0238, 0.12644, 0.438, candidate=False, kind="long_text")]


def test_value_order_differs_from_volume_order() -> None:
    tasks = copy.deepcopy(DEMO)
    by_volume = [t["id"] for t in sorted(tasks, key=lambda t: -t["volume_share"] * t["readiness"]["score"])
                 if t["candidate"]]
    assert by_volume == ["t01", "t04", "t02", "t03", "t05"]
    assert value_rank(tasks) == ["t03", "t05", "t04", "t01", "t02"]
    by_id = {t["id"]: t for t in tasks}
    assert [by_id[i]["rank"] for i in ("t03", "t05", "t04", "t01", "t02")] == [1, 2, 3, 4, 5]
    assert by_id["t03"]["priority"] == round(0.18719 * 0.729, 5)
    assert all(t["priority_basis"] == "cost_share" for t in tasks)
    # not a candidate: valued, never ranked, even though it holds more of the bill than most candidates
    assert by_id["t06"]["rank"] is None and by_id["t06"]["priority"] == round(0.12644 * 0.438, 5)
    assert ranking_note(tasks) == ("SLM candidates are ranked by the LLM spend they could avoid: "
                                   "share of the bill x readiness.")


def test_ties_go_by_id_and_the_rank_is_rewritten() -> None:
    tasks = [_task("b", 10, 0.5, 0.4, 0.5), _task("a", 10, 0.5, 0.4, 0.5), _task("c", 10, 0.0, 0.2, 1.0)]
    tasks[0]["rank"] = 7
    assert value_rank(tasks) == ["a", "b", "c"]
    assert [t["rank"] for t in tasks] == [2, 1, 3]


def test_a_task_without_any_priced_call_falls_back_to_its_share_of_calls() -> None:
    tasks = [_task("t1", 100, 0.5, 0.9, 0.8), _task("t2", 80, 0.4, 0.0, 0.9, unpriced=80),
             _task("t3", 20, 0.1, 0.1, 0.9, unpriced=5)]
    assert [priority_basis(t) for t in tasks] == ["cost_share", "volume_share", "cost_share"]
    assert task_value(tasks[1]) == (round(0.4 * 0.9, 5), "volume_share")
    assert value_rank(tasks) == ["t1", "t2", "t3"]  # t2's unknown cost is not counted as zero
    note = ranking_note(tasks)
    assert "share of the bill x readiness" in note
    assert "No cost is known for t2: its share of calls stands in for the share of the bill." in note


def test_no_known_cost_at_all_ranks_by_share_of_calls_and_says_so() -> None:
    tasks = [_task("t1", 10, 0.2, None, 0.9), _task("t2", 40, 0.8, None, 0.7)]
    assert value_rank(tasks) == ["t2", "t1"]
    assert {t["priority_basis"] for t in tasks} == {"volume_share"}
    assert ranking_note(tasks) == ("SLM candidates are ranked by share of calls x readiness: "
                                   "no cost is known for any call.")
    assert ranking_note([_task("t1", 10, 1.0, 0.5, 0.2, candidate=False)]) == "No task is an SLM candidate yet."


def _tasks_json(tasks: list[dict]) -> dict:
    return {"explanation": "Six tasks. " + ranking_note(tasks), "tasks": tasks, "candidates": value_rank(tasks),
            "settings": {"candidate_score": 0.6}, "steps": []}


def test_the_table_and_the_cards_say_how_much_of_the_bill_each_task_holds() -> None:
    from fde_toolkit.tasks import figures, render_tasks
    from fde_toolkit.tasks.explorer import task_card

    data = _tasks_json(copy.deepcopy(DEMO))
    text = render_tasks(data)
    assert "calls%" in text and "bill%" in text and "value" in text.split("\n")[2]
    assert "ranked by value: the LLM spend each could avoid, its share of the bill" in text
    rows = [line for line in text.split("\n") if line[:4].strip().isdigit()]
    assert [r.split()[1] for r in rows] == ["t03", "t05", "t04", "t01", "t02"]
    assert "18.7%" in rows[0] and "0.136" in rows[0]
    t06 = next(line for line in text.split("\n") if " t06 " in line)
    assert "12.6%" in t06 and "0.055" not in t06  # the bill share of a non-candidate, but no value
    assert "stands in" not in text

    t03 = next(t for t in data["tasks"] if t["id"] == "t03")
    card = task_card(t03)
    assert "share of the bill" in card and "18.7% of the known cost" in card
    assert "0.136 = 18.7% of the bill x readiness 0.73" in card
    table = figures.candidate_table(data)
    header = list(table.data[0].header.values)
    cells = table.data[0].cells.values
    assert list(cells[1])[:5] == ["t03", "t05", "t04", "t01", "t02"]
    assert list(cells[header.index("% of bill")])[0] == "18.7%"
    assert list(cells[header.index("value")])[0] == "0.136"
    assert "ranked by the LLM spend they could avoid" in table.layout.title.text


def test_the_table_marks_a_share_of_calls_standing_in_for_an_unknown_cost() -> None:
    from fde_toolkit.tasks import render_tasks

    tasks = [_task("t1", 100, 0.5, 0.9, 0.8), _task("t2", 80, 0.4, 0.0, 0.9, unpriced=80)]
    text = render_tasks(_tasks_json(tasks))
    assert "0.360*" in text
    assert "* no cost is known for this task: its share of calls stands in for its share of the bill." in text
