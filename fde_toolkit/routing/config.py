"""The `routing:` section of engagement.yaml: quality targets, the escalation endpoint, input limits.

    routing:
      target: 0.98                 # agreement with the LLM the SLM's kept calls must hold (every task)
      targets: {t03: 0.99}         # per task, over `target`
      confidence: 0.95             # one-sided Clopper-Pearson bound the target is met with
      max_input_chars: 32000       # longer requests go to the LLM ("oversized_input")
      far_quantile: 0.99           # a call farther from its task centre than this quantile of the
                                   # task's own calls matches no task closely ("far_from_task")
      escalation:                  # any OpenAI-compatible endpoint; the key comes from the environment
        url: http://llm-gateway.internal/v1
        api_key_env: OPENAI_API_KEY
        model: null                # null: the model the request names
        timeout_s: 60
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EscalationConfig(_Strict):
    """Where escalated calls go. The key is read from `api_key_env` at run time, never written anywhere."""

    url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    model: str | None = None
    timeout_s: float = Field(60.0, gt=0)


class RoutingConfig(_Strict):
    """How `fde route` calibrates escalation and how the router guards its inputs."""

    target: float = Field(0.98, gt=0, lt=1)
    targets: dict[str, float] = Field(default_factory=dict)
    confidence: float = Field(0.95, gt=0.5, lt=1)
    max_input_chars: int = Field(32_000, ge=1)
    far_quantile: float = Field(0.99, gt=0, le=1)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)

    @field_validator("targets")
    @classmethod
    def _targets_are_shares(cls, v: dict[str, float]) -> dict[str, float]:
        for task, t in v.items():
            if not 0 < t < 1:
                raise ValueError(f"routing.targets.{task} is {t}; a target is a share between 0 and 1 (e.g. 0.98)")
        return v

    def target_for(self, task: str) -> float:
        return self.targets.get(task, self.target)
