"""The SLM-first router: a specialist answers when the policy trusts it, the LLM answers the rest.

    router = Router.from_engagement("engagements/acme")       # routing.yaml + the task index + specialists
    reply = router.complete({"model": "gpt-4o", "messages": [...], "metadata": {"workload_id": "triage"}})
    reply["choices"][0]["message"], reply["fde_route"]         # {"route": "slm"|"llm", "task", "reason", ...}
    router.log_to("logs/routed.jsonl")                         # canonical call records, for `fde ingest`
    batch = router.route_batch(requests)                       # each stage once for all (what `fde serve` uses)
    [r.reply if not r.escalates else router.escalate(r) for r in batch]   # escalate concurrently in a server

One request in: it becomes a canonical call row, is scrubbed with the engagement's PII settings (no model
or embedding sees raw text), placed in a task by the task index, and answered by the task's specialist
when routing.yaml routes the task to it, the answer passes the validators and its signal reaches the
calibrated threshold. Otherwise the ORIGINAL request goes to the escalation client (routing.escalation,
or any callable request -> chat.completion) with one reason: the index's (empty_input, oversized_input,
undecodable_input, no_matching_step, far_from_task), sensitive_input (a sensitivity rule drops or
restricts the call), task_on_llm, a validator's, low_confidence or specialist_error.
`complete` is the batch of one, escalated at once. Specialists run on hardening.json's recommended runtime.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from dataclasses import dataclass
from typing import Any, Sequence

import orjson
import polars as pl
import yaml

from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement
from fde_toolkit.logs.jsonl import RecordError, json_text, messages_of
from fde_toolkit.logs.schema import conform
from fde_toolkit.routing.client import Client, client_from
from fde_toolkit.routing.index import TaskIndex
from fde_toolkit.tasks.embed import Embedder

NO_ROUTE = {"route": None, "task": None, "reason": "", "signal": None, "score": None, "threshold": None,
            "latency_ms": None}
INDEX_GUARDS = ("empty_input", "oversized_input", "undecodable_input")  # apply to a request naming its task too


def _undecodable(value: Any) -> bool:
    """A string anywhere in the request that is not valid UTF-8 text (lone surrogates) or holds NUL."""
    if isinstance(value, str):
        if "\x00" in value:
            return True
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_undecodable(v) for v in value.values())
    if isinstance(value, list):
        return any(_undecodable(v) for v in value)
    return False


def request_call(request: dict[str, Any], call_id: str) -> pl.DataFrame:
    """An OpenAI chat request as one canonical call row (raw text; scrub it before any model sees it)."""
    if not isinstance(request, dict):
        raise FdeError(f"request: a chat request is a JSON object, not {type(request).__name__}.")
    try:
        roles, contents = messages_of(request.get("messages"), "messages")
        tools = json_text(request.get("tools"), "tools")
    except RecordError as e:
        raise FdeError(f"request: {e.detail}.") from None
    meta = request.get("metadata") if isinstance(request.get("metadata"), dict) else {}
    wid = meta.get("workload_id")
    row = {"call_id": call_id, "timestamp": datetime.now(timezone.utc), "model": str(request.get("model") or ""),
           "messages": [{"role": r, "content": c} for r, c in zip(roles or [], contents or [])], "tools": tools,
           "workload_id": str(wid) if wid is not None else None, "status": "ok"}
    return conform(pl.DataFrame([row], schema_overrides={
        "messages": pl.List(pl.Struct({"role": pl.String, "content": pl.String})), "tools": pl.String,
        "workload_id": pl.String}))


def specialist_record(call: dict[str, Any]) -> dict[str, Any]:
    """A curated call row as the dataset record a specialist answers ({"id", "messages", "tools"})."""
    tools = None
    if call.get("tools"):
        try:
            tools = orjson.loads(call["tools"])
        except orjson.JSONDecodeError:
            tools = None
    return {"id": call["call_id"], "messages": [{"role": m["role"], "content": m["content"] or ""}
                                                for m in call["messages"] or []],
            "tools": tools if isinstance(tools, list) else None}


def tool_calls_message(answer: str, offered: list[dict] | None) -> dict[str, Any] | None:
    """A tool-call answer ({"name", "arguments"} or a list) as an OpenAI assistant message; None if unreadable.
    Names go back to the spelling the request offered (the specialist answers with the logged spelling)."""
    from fde_toolkit.slm.metrics import parse_tool_calls
    from fde_toolkit.slm.tools import offered_tool_names, tool_key

    calls = parse_tool_calls(answer)
    if calls is None:
        return None
    names = {tool_key(n): n for n in offered_tool_names(offered)}
    out = []
    for i, (name, args) in enumerate(calls):
        out.append({"id": f"call_{uuid.uuid4().hex[:12]}_{i}", "type": "function",
                    "function": {"name": names.get(tool_key(name), name),
                                 "arguments": args if isinstance(args, str) else orjson.dumps(args).decode()}})
    return {"role": "assistant", "content": None, "tool_calls": out}


@dataclass
class Routed:
    """One request's way through `Router.route_batch`: a specialist's answer, or an escalation to perform."""

    request: Any
    call_id: str
    route: dict[str, Any]  # as "fde_route": route, task, reason, signal, score, threshold, latency_ms
    reply: dict[str, Any] | None = None  # the chat.completion, once answered (by the specialist or the LLM)
    error: FdeError | None = None  # a problem the caller hears: a bad request, a specialist that cannot load
    started: float = 0.0  # perf_counter() when the request arrived
    task: str | None = None  # the task the request named directly, if any

    @property
    def escalates(self) -> bool:
        """Whether the LLM still has to answer (route["reason"] says why)."""
        return self.reply is None and self.error is None


class Router:
    """Answers OpenAI chat requests with the engagement's specialists, escalating by the policy."""

    def __init__(self, eng: Engagement, policy: dict[str, Any], index: TaskIndex, client: Client | None = None):
        from fde_toolkit.privacy.pseudonym import load_key

        self.engagement = eng
        self.policy = policy
        self.index = index
        self.tasks: dict[str, dict[str, Any]] = policy.get("tasks") or {}
        self.last_route: dict[str, Any] | None = None
        self._client = client
        self._key = load_key(eng.root, eng.config.pii.key_file)  # in memory only
        self._specialists: dict[str, Any] = {}
        self._batch_sizes: dict[str, int | None] = {}
        self._log: Path | None = None
        self._lock = threading.Lock()
        self.timings: dict[str, float] = {}  # seconds of the last call's stages (scrub, assign, specialist)

    @classmethod
    def from_engagement(cls, path: str | os.PathLike | Engagement, client: Client | None = None,
                        embedder: Embedder | None = None) -> "Router":
        """The router `fde route` configured: routing.yaml, its task index, the escalation endpoint."""
        eng = path if isinstance(path, Engagement) else Engagement.load(path)
        policy_path = eng.artifacts.path("routing_policy")
        if not policy_path.exists():
            raise FdeError(f"{eng.display(policy_path)}: not found. Run `fde route {eng.display_root}` first: it "
                           "calibrates each task's escalation threshold and writes the policy the router loads.")
        try:
            policy = yaml.safe_load(policy_path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            raise FdeError(f"{eng.display(policy_path)}: not valid YAML. Run `fde route {eng.display_root} --force` "
                           "to write it again.") from None
        if not isinstance(policy, dict) or not isinstance(policy.get("tasks"), dict):
            raise FdeError(f"{eng.display(policy_path)}: no `tasks:` mapping. Run `fde route {eng.display_root} "
                           "--force` to write it again.")
        index = TaskIndex.load(eng.artifacts.root / policy.get("task_index", "router/task_index"), embedder,
                               cache_dir=eng.cache_dir / "embeddings")
        return cls(eng, policy, index, client)

    # ------------------------------------------------------------------ parts

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = client_from(self.engagement.config.routing.escalation)
        return self._client

    def specialist(self, task: str):
        """The task's specialist, loaded on first use and kept."""
        spec = self._specialists.get(task)
        if spec is None:
            from fde_toolkit.routing.signals import load_specialist

            runtime = self.runtime(task)
            spec = load_specialist(self.engagement, task) if runtime == "eager" else \
                load_specialist(self.engagement, task, runtime=runtime)
            self._specialists[task] = spec
        return spec

    def runtime(self, task: str) -> str:
        """The runtime the task's specialist runs on: hardening.json's recommendation, else "eager"."""
        try:
            from fde_toolkit.hardening.runtimes import recommended_runtime
        except ImportError:  # no hardening runtimes in this install: the eager specialist
            return "eager"
        return recommended_runtime(self.engagement, task) or "eager"

    def batch_size(self, task: str) -> int | None:
        """The most requests the task's specialist answers in one pass: hardening.json's recommended batch size."""
        if task not in self._batch_sizes:
            try:
                from fde_toolkit.hardening.runtimes import recommended_batch_size
            except ImportError:
                self._batch_sizes[task] = None
            else:
                self._batch_sizes[task] = recommended_batch_size(self.engagement, task)
        return self._batch_sizes[task]

    def loaded(self) -> dict[str, Any]:
        """The specialists loaded so far, by task."""
        return dict(self._specialists)

    def scrub(self, call: pl.DataFrame) -> pl.DataFrame:
        """The call with PII replaced as `fde scrub` does; empty when a sensitivity rule drops or restricts it."""
        from fde_toolkit.privacy.curation import scrub_calls

        curated, _, _ = scrub_calls(call, self.engagement.config.pii, self._key)
        return curated

    def log_to(self, path: str | os.PathLike | None) -> "Router":
        """Append every routed call to `path` as a canonical call record (JSONL that `fde ingest` reads)."""
        self._log = Path(path) if path is not None else None
        if self._log is not None:
            self._log.parent.mkdir(parents=True, exist_ok=True)
        return self

    # ------------------------------------------------------------------ routing

    def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        """A chat.completion for `request`, from a specialist or the LLM; the route under "fde_route"."""
        routed = self.route_batch([request])[0]
        if routed.error is not None:
            raise routed.error
        return self.escalate(routed) if routed.escalates else routed.reply

    def route_batch(self, requests: Sequence[Any], tasks: Sequence[str | None] | None = None,
                    started: Sequence[float] | None = None) -> list["Routed"]:
        """Each request's route, every stage once for the whole batch: one scrub over all the rows, one
        `index.assign`, one `answer(records)` per specialist. A specialist's answers come back finished
        (logged, `reply` set); the others come back with `escalates` true and their reason, for the caller
        to send to the LLM with `escalate` (concurrently: one slow LLM call must not hold up the batch).

        `tasks[i]` names request i's task directly (a served specialist's model id): the index's guards
        (empty, oversized, undecodable input) still apply, its choice of task does not. `started[i]` is
        the perf_counter() when request i arrived (latency counts from there; default: now).
        A bad request gets `error` (an FdeError) and touches no other request of the batch. Scrubbing a
        batch replaces a literal found as PII in one request wherever it appears in the others too.
        """
        t0 = time.perf_counter()
        tasks = list(tasks) if tasks is not None else [None] * len(requests)
        started = list(started) if started is not None else [t0] * len(requests)
        self.timings = {}
        out: list[Routed] = []
        rows: list[pl.DataFrame] = []
        for i, request in enumerate(requests):
            meta = request.get("metadata") if isinstance(request, dict) and isinstance(request.get("metadata"),
                                                                                         dict) else {}
            r = Routed(request, str(meta.get("call_id") or f"route-{uuid.uuid4().hex}"), dict(NO_ROUTE),
                       started=started[i], task=tasks[i])
            out.append(r)
            if _undecodable(request):
                r.route["reason"] = "undecodable_input"
                continue
            try:
                rows.append(request_call(request, str(i)))  # the batch position as the row's id
            except FdeError as e:
                r.error = e
        if rows:
            self._specialists_answer(out, self._place(out, rows))
        for r in out:
            if r.reply is not None:
                self._finish(r, r.reply, llm=False)
        return out

    def escalate(self, routed: "Routed", log_errors: bool = False) -> dict[str, Any]:
        """The LLM's chat.completion for an escalated request (the ORIGINAL request), finished and logged.
        An endpoint failure raises its FdeError; with `log_errors` the call is logged first (status error)."""
        try:
            reply = dict(self.client(routed.request))
        except FdeError as e:
            if log_errors and self._log is not None:
                routed.route["route"] = "llm"
                routed.route["latency_ms"] = round((time.perf_counter() - routed.started) * 1000, 3)
                self._append(routed.request, {}, routed.request.get("model"), routed.call_id, routed.route,
                             error=str(e))
            raise
        return self._finish(routed, reply, llm=True)

    def _finish(self, routed: "Routed", reply: dict[str, Any], llm: bool) -> dict[str, Any]:
        route = routed.route
        route["route"] = "llm" if llm else "slm"
        model = (reply.get("model") or routed.request.get("model")) if llm else reply["model"]
        route["latency_ms"] = round((time.perf_counter() - routed.started) * 1000, 3)
        reply["fde_route"] = route
        routed.reply = reply
        self.last_route = route
        if self._log is not None:
            self._append(routed.request, reply, model, routed.call_id, route)
        return reply

    def _place(self, out: list["Routed"], rows: list[pl.DataFrame]) -> dict[str, list[tuple["Routed", dict]]]:
        """Scrub and place the batch's rows: per task, the (routed, curated record) pairs its specialist answers."""
        t = time.perf_counter()
        curated = self.scrub(pl.concat(rows, how="vertical_relaxed") if len(rows) > 1 else rows[0])
        self.timings["scrub"] = time.perf_counter() - t
        kept = {c["call_id"]: c for c in curated.iter_rows(named=True)}
        for row in rows:
            pos = row.item(0, "call_id")
            if pos not in kept:
                out[int(pos)].route["reason"] = "sensitive_input"
        t = time.perf_counter()
        placed = self.index.assign(curated).iter_rows(named=True) if curated.height else []
        self.timings["assign"] = time.perf_counter() - t
        work: dict[str, list[tuple[Routed, dict]]] = {}
        for p in placed:
            r = out[int(p["call_id"])]
            forced = r.task is not None and p["reason"] not in INDEX_GUARDS
            r.route["task"] = r.task if forced else p["task_id"]
            if p["reason"] and not forced:
                r.route["reason"] = p["reason"]
                continue
            task = self.tasks.get(r.route["task"]) or {}
            if task.get("route") != "slm":
                r.route["reason"] = "task_on_llm"
                continue
            r.route["signal"], r.route["threshold"] = task.get("signal"), task.get("threshold")
            record = specialist_record(kept[p["call_id"]])
            record["id"] = r.call_id
            work.setdefault(r.route["task"], []).append((r, record))
        return work

    def _specialists_answer(self, out: list["Routed"], work: dict[str, list[tuple["Routed", dict]]]) -> None:
        """One `answer(records)` per task; each request answered, or its escalation reason set."""
        t = time.perf_counter()
        for task_id, items in work.items():
            task = self.tasks[task_id]
            records = [rec for _, rec in items]
            try:
                spec = self.specialist(task_id)
                ans = spec.answer_in_batches(records, self.batch_size(task_id))
                scores = [float(s) for s in ans.signals[task["signal"]]]
            except FdeError as e:
                for r, _ in items:
                    r.error = e
                continue
            except Exception:  # a specialist that fails on a batch must not fail its callers: the LLM answers
                for r, _ in items:
                    r.route["reason"] = "specialist_error"
                continue
            for (r, record), pred, score, problems in zip(items, ans.predictions, scores, ans.problems):
                r.reply = self._specialist_reply(r.route, spec, record, pred, score, problems, task)
        self.timings["specialist"] = time.perf_counter() - t

    @staticmethod
    def _specialist_reply(route: dict[str, Any], spec: Any, record: dict[str, Any], pred: str, score: float,
                          problems: list[str], task: dict[str, Any]) -> dict[str, Any] | None:
        """The specialist's chat.completion, or None with route["reason"] set when the call escalates."""
        route["score"] = round(score, 6)
        if problems:
            route["reason"] = problems[0]
            return None
        if task.get("threshold") is None or score < float(task["threshold"]):
            route["reason"] = "low_confidence"
            return None
        if spec.output_kind == "tool_call":
            message = tool_calls_message(pred, record["tools"])
            if message is None:
                route["reason"] = "invalid_json"
                return None
        else:
            message = {"role": "assistant", "content": pred}
        return {"id": f"chatcmpl-fde-{uuid.uuid4().hex[:24]}", "object": "chat.completion",
                "created": int(time.time()), "model": spec.candidate,
                "choices": [{"index": 0, "message": message,
                             "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}],
                "usage": None}

    def _append(self, request: dict[str, Any], reply: dict[str, Any], model: str | None, call_id: str,
                route: dict[str, Any], error: str | None = None) -> None:
        msg = ((reply.get("choices") or [{}])[0] or {}).get("message") or {}
        calls = [{"name": (c.get("function") or {}).get("name"), "arguments": (c.get("function") or {}).get(
            "arguments")} for c in msg.get("tool_calls") or []]
        usage = reply.get("usage") or {}
        meta = request.get("metadata") if isinstance(request.get("metadata"), dict) else {}
        record = {"call_id": call_id, "timestamp": datetime.now(timezone.utc).isoformat(), "model": model,
                  "provider": "fde-router" if route["route"] == "slm" else None,
                  "messages": request.get("messages"), "tools": request.get("tools"),
                  "response_text": msg.get("content") if isinstance(msg.get("content"), str) else None,
                  "tool_calls": calls or None, "input_tokens": usage.get("prompt_tokens"),
                  "output_tokens": usage.get("completion_tokens"), "latency_ms": route["latency_ms"],
                  "status": "error" if error else "ok", "workload_id": meta.get("workload_id"),
                  "metadata": {**{k: v for k, v in meta.items() if k not in ("workload_id", "call_id")},
                               "fde_route": route}}
        if error:
            record["error"] = error
        try:
            line = orjson.dumps(record, default=str) + b"\n"
        except orjson.JSONEncodeError:  # text that is not valid UTF-8: escaped, `fde ingest` quarantines it
            line = json.dumps(record, default=str).encode("ascii") + b"\n"
        with self._lock, open(self._log, "ab") as f:
            f.write(line)
