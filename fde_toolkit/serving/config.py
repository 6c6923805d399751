"""The `serve:` section of engagement.yaml: how `fde serve` listens, guards and batches.

    serve:
      host: 127.0.0.1
      port: 8000
      api_key_env: FDE_SERVE_API_KEY   # Bearer key clients must send; required when host is not loopback
      require_key: null                # null: required when bound beyond loopback; true/false to force
      max_body_bytes: 1000000          # larger requests get 413
      timeout_s: 30                    # per request, queue wait included; then 504
      queue_size: 256                  # requests waiting beyond this get 429
      max_batch: 16                    # requests one specialist answers together
      max_wait_ms: 5                   # how long a batch waits to fill
      escalation_workers: 16           # LLM calls in flight at once (escalations run beside the batches)
      log_dir: data/served             # every call as a canonical call record (JSONL), for `fde drift`
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ServeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    api_key_env: str = "FDE_SERVE_API_KEY"
    require_key: bool | None = None
    max_body_bytes: int = Field(1_000_000, ge=1024)
    timeout_s: float = Field(30.0, gt=0)
    queue_size: int = Field(256, ge=1)
    max_batch: int = Field(16, ge=1)
    max_wait_ms: float = Field(5.0, ge=0)
    escalation_workers: int = Field(16, ge=1)
    log_dir: str = "data/served"
