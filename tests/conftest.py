"""Shared fixtures: an engagement folder built in tmp_path from files given in code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from fde_toolkit.engagement import Engagement


def _write_engagement(root: Path, files: dict[str, bytes | str], sources: list[dict[str, Any]] | None = None,
                      prices: list[dict[str, Any]] | None = None) -> Engagement:
    raw = root / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        p = raw / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
    config: dict[str, Any] = {"name": root.name}
    if sources is not None:
        config["sources"] = sources
    if prices is not None:
        config["prices"] = prices
    (root / "engagement.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return Engagement.load(root)


@pytest.fixture
def make_engagement(tmp_path: Path) -> Callable[..., Engagement]:
    """make_engagement({"a.jsonl": b"..."}, sources=[...], prices=[...], name="eng") -> Engagement."""
    def make(files: dict[str, bytes | str], sources: list[dict[str, Any]] | None = None,
             prices: list[dict[str, Any]] | None = None, name: str = "eng") -> Engagement:
        return _write_engagement(tmp_path / name, files, sources, prices)
    return make


@pytest.fixture
def quarantine() -> Callable[[Engagement], list[dict[str, Any]]]:
    """The rows of an engagement's quarantine.jsonl."""
    def read(eng: Engagement) -> list[dict[str, Any]]:
        text = eng.artifacts.path("quarantine").read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return read


def _openai_pair(i: int = 0, **top: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "timestamp": f"2025-03-01T10:00:{i % 60:02d}Z",
        "request": {"model": "gpt-4o-mini", "messages": [{"role": "system", "content": "Be brief."},
                                                         {"role": "user", "content": f"question {i}"}],
                    "temperature": 0.1},
        "response": {"id": f"chatcmpl-{i}", "object": "chat.completion", "created": 1740823200 + i,
                     "model": "gpt-4o-mini", "choices": [{"index": 0, "message": {"role": "assistant",
                                                                                  "content": f"answer {i}"},
                                                          "finish_reason": "stop"}],
                     "usage": {"prompt_tokens": 10, "completion_tokens": 5}},
        "latency_ms": 120.0,
    }
    rec.update(top)
    return rec


def _canonical(i: int = 0, **fields: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"call_id": f"c{i}", "timestamp": f"2025-03-01T10:00:{i % 60:02d}Z", "model": "acme-llm",
                           "provider": "acme", "messages": [{"role": "user", "content": f"hi {i}"}],
                           "response_text": "hello", "input_tokens": 3, "output_tokens": 2, "latency_ms": 50.0}
    rec.update(fields)
    return rec


def _jsonl(records: list[Any]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


@pytest.fixture
def openai_pair() -> Callable[..., dict[str, Any]]:
    """openai_pair(i, **top_level_overrides): one OpenAI request/response pair record."""
    return _openai_pair


@pytest.fixture
def canonical_record() -> Callable[..., dict[str, Any]]:
    """canonical_record(i, **field_overrides): one canonical call record."""
    return _canonical


@pytest.fixture
def jsonl() -> Callable[[list[Any]], bytes]:
    """jsonl(records) -> the bytes of a JSONL file."""
    return _jsonl
