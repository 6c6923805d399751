"""The escalation client: where the router sends the calls its specialists should not answer.

    llm = OpenAIEndpoint("http://llm-gateway.internal/v1")          # key from $OPENAI_API_KEY at call time
    llm.complete({"model": "gpt-4o", "messages": [...]})            # -> the chat.completion dict
    client = client_from(eng.config.routing.escalation)             # or any callable request -> chat.completion

The API key is read from the environment on every call and kept nowhere else: not in the object's
state, not in artifacts, not in error messages. Errors name the URL and the HTTP status, never the
request's contents.
"""

from __future__ import annotations

import json
import os
from typing import Any, Callable

from fde_toolkit import FdeError
from fde_toolkit.routing.config import EscalationConfig

Client = Callable[[dict[str, Any]], dict[str, Any]]


class OpenAIEndpoint:
    """An OpenAI-compatible chat completions endpoint (OpenAI, Azure-style gateways, vLLM, LiteLLM...)."""

    def __init__(self, url: str, api_key_env: str = "OPENAI_API_KEY", model: str | None = None,
                 timeout_s: float = 60):
        self.url = url.rstrip("/")
        self.api_key_env = api_key_env
        self.model = model
        self.timeout_s = float(timeout_s)
        self._http = None

    @classmethod
    def from_config(cls, config: EscalationConfig) -> "OpenAIEndpoint":
        if not config.url:
            raise FdeError("routing.escalation.url is not set in engagement.yaml: name the OpenAI-compatible "
                           "endpoint escalated calls go to (e.g. http://llm-gateway.internal/v1).")
        return cls(config.url, config.api_key_env, config.model, config.timeout_s)

    @property
    def endpoint(self) -> str:
        return f"{self.url}/chat/completions"

    def _key(self) -> str:
        key = os.environ.get(self.api_key_env)
        if not key:
            raise FdeError(f"${self.api_key_env} is not set: the escalation endpoint's API key is read from it "
                           "(routing.escalation.api_key_env). Export it before routing.")
        return key

    def complete(self, request: dict[str, Any]) -> dict[str, Any]:
        """POST the request to {url}/chat/completions; the chat.completion dict it answers."""
        import httpx

        headers = {"Authorization": f"Bearer {self._key()}", "Content-Type": "application/json"}
        body = {**request, "model": self.model} if self.model else request
        if self._http is None:
            self._http = httpx.Client(timeout=self.timeout_s)
        try:
            # ASCII JSON: text that is not valid UTF-8 (a lone surrogate) still travels, escaped, as the caller sent it
            resp = self._http.post(self.endpoint, content=json.dumps(body).encode("ascii"), headers=headers)
        except httpx.TimeoutException:
            raise FdeError(f"{self.endpoint}: the escalation endpoint did not answer within {self.timeout_s:g} s "
                           "(routing.escalation.timeout_s).") from None
        except httpx.HTTPError as e:
            raise FdeError(f"{self.endpoint}: cannot reach the escalation endpoint ({type(e).__name__}). "
                           "Check routing.escalation.url.") from None
        if resp.status_code >= 400:
            raise FdeError(f"{self.endpoint}: the escalation endpoint answered HTTP {resp.status_code}"
                           f"{' ' + resp.reason_phrase if resp.reason_phrase else ''}.")
        try:
            out = resp.json()
        except ValueError:
            out = None
        if not isinstance(out, dict) or not isinstance(out.get("choices"), list):
            raise FdeError(f"{self.endpoint}: the escalation endpoint's answer (HTTP {resp.status_code}) is not a "
                           "chat.completion object.")
        return out

    __call__ = complete

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None


def client_from(source: EscalationConfig | Client | None) -> Client:
    """A client from the `routing.escalation` settings, or a callable request -> chat.completion as it is."""
    if isinstance(source, EscalationConfig):
        return OpenAIEndpoint.from_config(source)
    if callable(source):
        return source
    raise FdeError("No escalation client: set routing.escalation.url in engagement.yaml or pass a callable "
                   "request -> chat.completion.")
