"""`fde serve`: an OpenAI-compatible HTTP endpoint over the router (Starlette on uvicorn).

    app = create_app(Router.from_engagement(eng), eng.config.serve)    # a Starlette app
    serve(eng, host="127.0.0.1", port=8000)                            # `fde serve`: runs it on uvicorn
    with serve_in_thread(app) as running:                              # tests and benchmarks: port 0, a thread
        openai.OpenAI(base_url=running.url + "/v1", api_key="...")

Endpoints: `POST /v1/chat/completions` (JSON, or `stream: true` as Server-Sent Events of
chat.completion.chunk objects ending with `data: [DONE]`), `GET /v1/models` (`auto` and one id per task
routed to a specialist, `fde/<task>/<specialist>`), `GET /health`, `GET /metrics` (Prometheus text).

The model a request names: a served id answers with that task's specialist directly (its threshold and
validators still apply; escalated, the request goes to the LLM with the model most logged for the task);
`auto` or any other name (the `gpt-4o` the customer's code already sends) is placed in a task by the task
index; an `fde/...` id that is not served is 404 model_not_found.

Concurrent requests wait in a MicroBatcher (serve.max_batch, max_wait_ms, queue_size) and go through
`Router.route_batch` together; the escalated ones are sent to the LLM from a thread pool
(serve.escalation_workers), never inside the batch. Streaming does not reach the LLM: an escalated
streaming request is sent non-streaming and its answer re-streamed as chunks.

Guards: request bodies over serve.max_body_bytes get 413, a request not answered within serve.timeout_s
(queue wait included) 504, a full queue 429 with Retry-After, bad input 400 (404 for an unknown model id),
a failing escalation endpoint 502 with its message (never the request's contents). Errors are OpenAI-shaped:
`{"error": {"message", "type", "param", "code"}}`. A Bearer key from $serve.api_key_env is required on
/v1/* and /metrics when the host is not loopback (serve.require_key forces it on or off). Every call is
logged as a canonical call record (JSONL) under <engagement>/<serve.log_dir>/, for `fde drift --logs`.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import orjson

from fde_toolkit import FdeError
from fde_toolkit.serving.batcher import MicroBatcher, QueueFull
from fde_toolkit.serving.config import ServeConfig

if TYPE_CHECKING:
    from fde_toolkit.engagement import Engagement
    from fde_toolkit.routing.router import Routed, Router

MODEL_PREFIX = "fde/"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)
FIELD_TYPES: dict[str, tuple[tuple[type, ...], str]] = {  # request fields checked for their JSON type
    "model": ((str,), "a string"), "stream": ((bool,), "a boolean"), "stream_options": ((dict,), "an object"),
    "tools": ((list,), "an array"), "metadata": ((dict,), "an object"), "n": ((int,), "an integer"),
    "temperature": ((int, float), "a number"), "top_p": ((int, float), "a number"),
    "max_tokens": ((int,), "an integer"), "max_completion_tokens": ((int,), "an integer"),
    "seed": ((int,), "an integer"), "user": ((str,), "a string"), "stop": ((str, list), "a string or an array"),
    "tool_choice": ((str, dict), "a string or an object"), "response_format": ((dict,), "an object"),
}


class ApiError(Exception):
    """An HTTP error answered as an OpenAI error body."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type_, param, code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


def is_loopback(host: str) -> bool:
    """Whether `host` only listens on this machine (localhost, 127.0.0.0/8, ::1)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def model_id(task: str, specialist: str) -> str:
    """The model id a client sends to reach a task's specialist directly."""
    return f"{MODEL_PREFIX}{task}/{specialist}"


def _dumps(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj, default=str)
    except (orjson.JSONEncodeError, TypeError):  # text that is not valid UTF-8: escaped
        return json.dumps(obj, default=str).encode("ascii")


def _check_fields(body: Any) -> None:
    """400 for a body that is not a chat request the router can take (types, messages)."""
    from fde_toolkit.logs.jsonl import RecordError, messages_of

    if not isinstance(body, dict):
        raise ApiError(400, f"The request body must be a JSON object, not {type(body).__name__}.",
                       code="invalid_body")
    for name, (types, what) in FIELD_TYPES.items():
        v = body.get(name)
        if v is not None and (not isinstance(v, types) or (isinstance(v, bool) and bool not in types)):
            raise ApiError(400, f"`{name}` must be {what}.", param=name, code="invalid_type")
    if body.get("n") not in (None, 1):
        raise ApiError(400, "Only n = 1 is supported.", param="n", code="unsupported_value")
    messages = body.get("messages")
    if messages is None:
        raise ApiError(400, "`messages` is required: a non-empty array of {role, content} objects.",
                       param="messages", code="missing_required_parameter")
    if not isinstance(messages, list):
        raise ApiError(400, "`messages` must be an array of {role, content} objects.", param="messages",
                       code="invalid_type")
    if not messages:
        raise ApiError(400, "`messages` is empty: send at least one message.", param="messages",
                       code="empty_array")
    for i, m in enumerate(messages):  # the API's types: stricter than the log readers, which keep what was logged
        if isinstance(m, dict) and not (m.get("content") is None or isinstance(m["content"], (str, list))):
            raise ApiError(400, f"messages[{i}].content must be a string or an array of content parts.",
                           param=f"messages[{i}].content", code="invalid_type")
    try:
        messages_of(messages, "messages")
    except RecordError as e:
        param = re.match(r"messages(\[\d+\])?(\.\w+)?", e.detail)
        raise ApiError(400, f"{e.detail}.", param=param.group(0) if param else "messages",
                       code="invalid_type") from None


@dataclass
class _Item:
    request: dict[str, Any]
    task: str | None
    started: float


class _Metrics:
    """The app's Prometheus metrics, in a registry of its own."""

    def __init__(self, queue_depth: Callable[[], float]):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("fde_requests", "Chat completion requests answered, by route, task, reason and "
                                "HTTP status", ["route", "task", "reason", "status"], registry=r)
        self.escalations = Counter("fde_escalations", "Requests sent to the LLM, by task and reason",
                                   ["task", "reason"], registry=r)
        self.escalation_errors = Counter("fde_escalation_errors", "Escalations the LLM endpoint failed",
                                         registry=r)
        self.latency = Histogram("fde_request_latency_seconds", "Time from arrival to answer (queue wait "
                                 "included), by route", ["route"], buckets=LATENCY_BUCKETS, registry=r)
        self.batch = Histogram("fde_batch_size", "Requests routed together in one batch", buckets=BATCH_BUCKETS,
                               registry=r)
        depth = Gauge("fde_queue_depth", "Requests waiting for a batch", registry=r)
        depth.set_function(queue_depth)

    def text(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class ChatService:
    """What the endpoints share: the router, its batcher, the escalation pool, the metrics, the guards."""

    def __init__(self, router: "Router", config: ServeConfig, host: str | None = None, warm_up: bool = True):
        self.router, self.config = router, config
        host = host if host is not None else config.host
        self.require_key = config.require_key if config.require_key is not None else not is_loopback(host)
        if self.require_key and not os.environ.get(config.api_key_env):
            raise FdeError(f"${config.api_key_env} is not set: `fde serve` on {host} (not loopback) requires a "
                           f"Bearer key (serve.api_key_env names the variable). Export it, or bind to 127.0.0.1, "
                           "or set serve.require_key: false to serve without one.")
        try:  # the escalation endpoint, resolved once now; without one, escalated requests get 502
            router.client  # noqa: B018
            self.escalation_problem: str | None = None
        except FdeError as e:
            self.escalation_problem = str(e)
        self.models: dict[str, str] = {}  # served model id -> task
        self.specialists: dict[str, dict[str, Any]] = {}
        for task, t in sorted(router.tasks.items()):
            if t.get("route") != "slm":
                continue
            spec = router.specialist(task)
            mid = model_id(task, str(t.get("specialist") or spec.candidate))
            self.models[mid] = task
            self.specialists[task] = {"model": mid, "specialist": spec.candidate, "kind": spec.kind,
                                      "output_kind": spec.output_kind, "runtime": router.runtime(task)}
        self.task_models = self._logged_models()
        if warm_up:
            self._warm_up()
        self.batcher: MicroBatcher[_Item, Routed] = MicroBatcher(
            self._route, max_batch=config.max_batch, max_wait_ms=config.max_wait_ms, queue_size=config.queue_size,
            name="fde-serve-batcher")
        self.pool = ThreadPoolExecutor(config.escalation_workers, thread_name_prefix="fde-serve-escalate")
        self.metrics = _Metrics(lambda: self.batcher.stats()["queued"])
        self.created = int(time.time())

    def _logged_models(self) -> dict[str, str]:
        """Per task, the LLM model its logged calls used most (where a request naming a specialist escalates)."""
        try:
            tasks = self.router.engagement.artifacts.optional("tasks") or {}
        except FdeError:
            return {}
        out = {}
        for t in tasks.get("tasks") or []:
            models = t.get("models") or []
            if t.get("id") and models and isinstance(models[0], dict) and models[0].get("model"):
                out[t["id"]] = str(models[0]["model"])
        return out

    def _warm_up(self) -> None:
        """Load what the first request would otherwise wait for: the scrubber's models, the embedder, each
        specialist's first pass. Nothing is logged."""
        from fde_toolkit.routing.router import request_call

        req = {"messages": [{"role": "user", "content": "warm up"}]}
        self.router.scrub(request_call(req, "warm-up"))
        self.router.index.embed(["warm up"])
        for task in self.specialists:
            self.router.specialist(task).answer([{"id": "warm-up", "messages": req["messages"], "tools": None}])

    def _route(self, items: list[_Item]) -> list["Routed"]:
        self.metrics.batch.observe(len(items))
        return self.router.route_batch([i.request for i in items], [i.task for i in items],
                                       [i.started for i in items])

    def close(self) -> None:
        self.batcher.close()
        self.pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ request handling

    def check_key(self, headers: Any) -> None:
        if not self.require_key:
            return
        key = os.environ.get(self.config.api_key_env) or ""
        sent = headers.get("authorization") or ""
        if not (key and sent.startswith("Bearer ") and hmac.compare_digest(sent[7:].strip().encode(), key.encode())):
            raise ApiError(401, "Missing or wrong API key: send `Authorization: Bearer <key>`.",
                           code="invalid_api_key")

    async def read_body(self, request: Any) -> bytes:
        limit = self.config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"The request body is {int(declared)} bytes; this server takes at most {limit} "
                           "(serve.max_body_bytes).", code="request_too_large")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"The request body is over {limit} bytes (serve.max_body_bytes).",
                               code="request_too_large")
            chunks.append(chunk)
        return b"".join(chunks)

    def parse(self, raw: bytes) -> tuple[dict[str, Any], str | None, bool, bool]:
        """(the request for the router, the task it names or None, stream, include usage) or a 4xx ApiError."""
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            try:  # escaped lone surrogates: valid JSON that orjson refuses (the router escalates them)
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                raise ApiError(400, "The request body is not valid JSON.", code="invalid_json") from None
        _check_fields(body)
        model = body.get("model")
        task = None
        if isinstance(model, str) and model.startswith(MODEL_PREFIX):
            task = self.models.get(model)
            if task is None:
                served = ", ".join(["auto", *self.models]) or "auto"
                raise ApiError(404, f"The model `{model}` does not exist here. Served: {served}.", param="model",
                               code="model_not_found")
        stream = bool(body.get("stream"))
        usage = bool((body.get("stream_options") or {}).get("include_usage"))
        request = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
        if task is not None and task in self.task_models:
            request["model"] = self.task_models[task]  # what the LLM gets if this request escalates
        return request, task, stream, usage

    async def complete(self, request: dict[str, Any], task: str | None, started: float) -> dict[str, Any]:
        """The chat.completion with "fde_route": batched through the router, escalated from the pool."""
        deadline = started + self.config.timeout_s
        try:
            fut = self.batcher.submit(_Item(request, task, started))
        except QueueFull:
            raise ApiError(429, f"The server is busy: {self.config.queue_size} requests are waiting "
                           "(serve.queue_size). Retry shortly.", "requests", code="rate_limit_exceeded",
                           headers={"Retry-After": "1"}) from None
        try:
            routed = await asyncio.wait_for(asyncio.wrap_future(fut), max(0.0, deadline - time.perf_counter()))
        except asyncio.TimeoutError:
            fut.cancel()
            raise self._timeout() from None
        if routed.error is not None:
            raise ApiError(500, str(routed.error), "server_error", code="specialist_unavailable")
        if not routed.escalates:
            return routed.reply
        self.metrics.escalations.labels(routed.route["task"] or "", routed.route["reason"]).inc()
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(self.pool, lambda: self.router.escalate(routed, log_errors=True))
        try:
            return await asyncio.wait_for(job, max(0.0, deadline - time.perf_counter()))
        except asyncio.TimeoutError:
            raise self._timeout() from None
        except FdeError as e:
            self.metrics.escalation_errors.inc()
            raise ApiError(502, str(e), "api_error", code="escalation_failed") from None

    def _timeout(self) -> ApiError:
        return ApiError(504, f"No answer within {self.config.timeout_s:g} s (serve.timeout_s).", "timeout",
                        code="timeout")

    def count(self, status: int, route: dict[str, Any] | None, reason: str, seconds: float) -> None:
        name = (route or {}).get("route") or "none"
        self.metrics.requests.labels(name, (route or {}).get("task") or "", reason, str(status)).inc()
        self.metrics.latency.labels(name).observe(seconds)

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "engagement": self.router.engagement.name, "specialists": self.specialists,
                "queue_depth": self.batcher.stats()["queued"], "batches": self.batcher.stats(),
                "api_key_required": self.require_key, "escalation": self.escalation_problem or "configured"}


def completion_chunks(reply: dict[str, Any], include_usage: bool = False) -> list[dict[str, Any]]:
    """A chat.completion as the chat.completion.chunk objects a streaming endpoint sends: the role, the
    content a word at a time, each tool call (its id and name, then its arguments), the finish reason."""
    base = {"id": reply.get("id") or "chatcmpl-fde", "object": "chat.completion.chunk",
            "created": reply.get("created") or int(time.time()), "model": reply.get("model") or ""}
    choice = (reply.get("choices") or [{}])[0] or {}
    msg = choice.get("message") or {}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

    out = [chunk({"role": "assistant", "content": ""})]
    content = msg.get("content")
    if isinstance(content, str) and content:
        out += [chunk({"content": piece}) for piece in re.findall(r"\s*\S+|\s+$", content)]
    for i, tc in enumerate(msg.get("tool_calls") or []):
        fn = tc.get("function") or {}
        out.append(chunk({"tool_calls": [{"index": i, "id": tc.get("id"), "type": tc.get("type", "function"),
                                          "function": {"name": fn.get("name"), "arguments": ""}}]}))
        out.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": fn.get("arguments") or ""}}]}))
    last = chunk({}, choice.get("finish_reason") or ("tool_calls" if msg.get("tool_calls") else "stop"))
    last["fde_route"] = reply.get("fde_route")
    out.append(last)
    if include_usage:
        out.append({**base, "choices": [], "usage": reply.get("usage")})
    return out


def create_app(router: "Router", config: ServeConfig | None = None, host: str | None = None,
               warm_up: bool = True) -> Any:
    """The Starlette app serving `router` by `config` (the engagement's `serve:` by default). `host` is
    where it will listen (default config.host): beyond loopback a Bearer key is required. Specialists are
    loaded (and, with `warm_up`, run once) before it returns."""
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    config = config or router.engagement.config.serve
    svc = ChatService(router, config, host, warm_up)

    def error(e: ApiError) -> Response:
        return Response(_dumps(e.body()), e.status, headers=e.headers, media_type="application/json")

    async def chat(request: Request) -> Response:
        started = time.perf_counter()
        reply = None
        try:
            svc.check_key(request.headers)
            req, task, stream, usage = svc.parse(await svc.read_body(request))
            reply = await svc.complete(req, task, started)
        except ApiError as e:
            svc.count(e.status, None, e.code or e.type, time.perf_counter() - started)
            return error(e)
        except Exception as e:  # noqa: BLE001  a failure of ours: 500, its kind only (no request contents)
            svc.count(500, None, "server_error", time.perf_counter() - started)
            return error(ApiError(500, f"Internal error ({type(e).__name__}).", "server_error", code="server_error"))
        route = reply.get("fde_route") or {}
        svc.count(200, route, route.get("reason") or "", time.perf_counter() - started)
        headers = {"x-fde-route": str(route.get("route") or ""), "x-fde-task": str(route.get("task") or ""),
                   "x-fde-reason": str(route.get("reason") or "")}
        if not stream:
            return Response(_dumps(reply), 200, headers=headers, media_type="application/json")

        async def events():
            for c in completion_chunks(reply, usage):
                yield b"data: " + _dumps(c) + b"\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), headers={**headers, "Cache-Control": "no-cache"},
                                 media_type="text/event-stream")

    def _model(mid: str) -> dict[str, Any]:
        return {"id": mid, "object": "model", "created": svc.created, "owned_by": "fde-toolkit"}

    async def models(request: Request) -> Response:
        try:
            svc.check_key(request.headers)
        except ApiError as e:
            return error(e)
        return JSONResponse({"object": "list", "data": [_model("auto"), *(_model(m) for m in svc.models)]})

    async def model(request: Request) -> Response:
        mid = request.path_params["model"]
        try:
            svc.check_key(request.headers)
            if mid != "auto" and mid not in svc.models:
                raise ApiError(404, f"The model `{mid}` does not exist here.", param="model", code="model_not_found")
        except ApiError as e:
            return error(e)
        return JSONResponse(_model(mid))

    async def health(request: Request) -> Response:
        return JSONResponse(svc.health())

    async def metrics(request: Request) -> Response:
        try:
            svc.check_key(request.headers)
        except ApiError as e:
            return error(e)
        data, content_type = svc.metrics.text()
        return Response(data, 200, headers={"Content-Type": content_type})

    async def http_error(request: Request, exc: HTTPException) -> Response:
        return error(ApiError(exc.status_code, f"{request.method} {request.url.path}: {exc.detail}.",
                              code="not_found" if exc.status_code == 404 else None))

    @asynccontextmanager
    async def lifespan(app):
        yield
        svc.close()

    app = Starlette(routes=[Route("/v1/chat/completions", chat, methods=["POST"]),
                            Route("/v1/models", models, methods=["GET"]),
                            Route("/v1/models/{model:path}", model, methods=["GET"]),
                            Route("/health", health, methods=["GET"]),
                            Route("/metrics", metrics, methods=["GET"])],
                    exception_handlers={HTTPException: http_error}, lifespan=lifespan)
    app.state.service = svc
    return app


def log_path(eng: "Engagement") -> Path:
    """Where this server start logs its calls: <engagement>/<serve.log_dir>/served-<UTC time>.jsonl."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return eng.root / eng.config.serve.log_dir / f"served-{stamp}.jsonl"


def build(eng: "Engagement", host: str | None = None, port: int | None = None, config: ServeConfig | None = None,
          router: "Router | None" = None) -> tuple[Any, list[str]]:
    """(the app for `eng`, the lines `fde serve` prints): the router (default: `fde route`'s, with the
    escalation endpoint of routing.escalation) logging to log_path(eng), its specialists loaded."""
    from fde_toolkit.routing.router import Router

    cfg = config or eng.config.serve
    host, port = host or cfg.host, cfg.port if port is None else port
    log = log_path(eng)
    router = (router or Router.from_engagement(eng)).log_to(log)
    app = create_app(router, cfg, host)
    svc: ChatService = app.state.service
    lines = [f"Serving {eng.name} on http://{host}:{port}/v1 (OpenAI-compatible chat completions)",
             f"Models: auto (routed by the task index){''.join(f', {m}' for m in svc.models)}",
             f"Calls are logged to {eng.display(log)} (read it with `fde drift {eng.display_root} --logs "
             f"{eng.display(log.parent)}`)",
             f"Health: http://{host}:{port}/health  Metrics: http://{host}:{port}/metrics"]
    if svc.escalation_problem:
        lines.append(f"Warning: escalated requests will get HTTP 502 until this is fixed: {svc.escalation_problem}")
    if svc.require_key:
        lines.append(f"Clients send `Authorization: Bearer ${cfg.api_key_env}`.")
    return app, lines


def serve(eng: "Engagement", host: str | None = None, port: int | None = None,
          echo: Callable[[str], None] = print) -> None:
    """Run `fde serve`: the engagement's router behind the OpenAI-compatible app, on uvicorn, until stopped."""
    import uvicorn

    cfg = eng.config.serve
    host, port = host or cfg.host, cfg.port if port is None else port
    app, lines = build(eng, host, port)
    for line in lines:
        echo(line)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


class ServerThread:
    """An app served by uvicorn in a background thread (tests, benchmarks); `url` once started."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, timeout_s: float = 30.0):
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                                    access_log=False, lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, name="fde-serve-uvicorn", daemon=True)
        self.thread.start()
        end = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > end:
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        self.port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://{host}:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def __enter__(self) -> "ServerThread":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def serve_in_thread(app: Any, host: str = "127.0.0.1", port: int = 0) -> ServerThread:
    """Serve `app` on loopback from a thread (port 0: a free port); stop it with .stop() or `with`."""
    return ServerThread(app, host, port)
