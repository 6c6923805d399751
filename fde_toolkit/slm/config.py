"""The engagement's `finetune:` section, validated (unknown keys are errors).

    cfg = eng.config.finetune           # FinetuneConfig with every default filled in
    cfg.train.lr, cfg.dataset.max_examples, cfg.serving.hourly_usd
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fde_toolkit import invalid_section


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DatasetSettings(_Strict):
    """How a task's curated calls become train/val/test examples."""

    max_examples: int = Field(5000, ge=10)  # cap on distinct examples kept, before the split
    val_fraction: float = Field(0.1, ge=0.0, lt=0.5)
    test_fraction: float = Field(0.15, gt=0.0, lt=0.5)
    max_val: int = Field(200, ge=1)
    max_test: int = Field(300, ge=1)
    # tool schemas shown to the SLM: "compact" (name, parameters, description) or "full" (OpenAI JSON)
    tools_in_prompt: Literal["compact", "full"] = "compact"


class LoraSettings(_Strict):
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    # "all-linear" or a list of module names (q_proj, k_proj, ...)
    target_modules: str | list[str] = "all-linear"


class TrainSettings(_Strict):
    """The training loop. A run stops at the first of: epochs, max_steps, budget_minutes, early stopping."""

    lr: float = Field(2e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup_steps: int = Field(10, ge=0)
    epochs: float = Field(3.0, gt=0)
    max_steps: int | None = Field(None, ge=1)
    budget_minutes: float | None = Field(20.0, gt=0)
    batch_size: int = Field(16, ge=1)  # examples per batch at most
    max_batch_tokens: int = Field(4096, ge=16)  # padded tokens per batch at most
    max_length: int = Field(1024, ge=16)  # longer examples have the middle of their prompt cut
    eval_every: int = Field(50, ge=1)  # steps between validation passes
    max_val_examples: int = Field(128, ge=1)
    patience: int = Field(3, ge=0)  # validation passes without improvement before stopping; 0 = never
    min_delta: float = Field(1e-3, ge=0)
    checkpoint_every: int = Field(100, ge=1)
    # prompt handling: "keep" the logged system prompt, or "drop" it (a long label list costs every example)
    system_prompt: Literal["keep", "drop"] = "keep"
    # 4-bit QLoRA: "auto" uses it on CUDA when bitsandbytes is installed; never on CPU
    quantize: Literal["auto", "4bit", "none"] = "auto"
    # CPU threads for training (and for `fde select` / `fde evaluate`); None: the cores that are free when the
    # step starts (usable cores minus other processes' load, slm/machine.py), recorded as `threads` in its output.
    # On a machine shared with other heavy processes, 1 is often several times faster than oversubscribed threads.
    threads: int | None = Field(None, ge=1)
    # arithmetic of the forward and backward passes: "auto" is bf16 autocast on CUDA; elsewhere the first batch is
    # timed in float32 and in bf16, and bf16 is used only when at least 10% faster with a loss within 2%
    # (recorded in training.json, result.precision). "fp32" or "bf16" pin it (an "auto" run may choose differently
    # on another machine, or on a busier one: pin it to repeat a run exactly elsewhere).
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    # the speed levers, on by default; turned off only to measure what each one pays
    answer_only_head: bool = True
    length_grouped: bool = True
    share_prefix: bool = True  # the prompt prefix every example of a batch shares runs once per batch


class ClassifierSettings(_Strict):
    """Encoder classifier candidates (label tasks): a frozen encoder's features and a logistic-regression head."""

    layers: int = Field(3, ge=1)  # mean-pooled hidden states of the last `layers` layers, concatenated
    lexical: bool = True  # add TF-IDF character and word n-grams of the request
    c: float = Field(10.0, gt=0)  # inverse regularisation strength of the head
    max_iter: int = Field(2000, ge=10)
    max_length: int = Field(128, ge=8)  # request tokens the encoder reads


class SelectSettings(_Strict):
    examples: int = Field(50, ge=1)  # test examples each candidate answers
    shots: int = Field(3, ge=1)  # k most similar training examples for few-shot
    latency_examples: int = Field(10, ge=1)  # single-request latency measured on this many
    quality_tolerance: float = Field(0.02, ge=0)  # candidates this close in quality rank by size, then latency


class EvaluateSettings(_Strict):
    max_examples: int = Field(300, ge=1)
    # base and few-shot answer only the first this-many test calls (None: all); the specialist answers all
    baseline_examples: int | None = Field(None, ge=1)
    latency_examples: int = Field(20, ge=1)
    batch_size: int = Field(8, ge=1)
    max_new_tokens: int = Field(256, ge=1)
    shots: int = Field(3, ge=1)
    # a free-text answer counts as a success at or above this chrF (0-100) against the LLM's answer
    text_success_chrf: float = Field(60.0, ge=0, le=100)
    # label decoding: "score" ranks every label by log-likelihood, "greedy" decodes within the label set
    label_decoding: Literal["auto", "score", "greedy"] = "auto"


class ServingSettings(_Strict):
    """What an hour of the SLM's serving hardware costs (cost per successful task)."""

    hardware: str = "1 vCPU-class instance (CPU inference)"
    hourly_usd: float = Field(0.10, ge=0)


class FinetuneConfig(_Strict):
    candidate: str | None = None  # default: the best candidate of `fde select`, else the first one
    dataset: DatasetSettings = Field(default_factory=DatasetSettings)
    lora: LoraSettings = Field(default_factory=LoraSettings)
    train: TrainSettings = Field(default_factory=TrainSettings)
    classifier: ClassifierSettings = Field(default_factory=ClassifierSettings)
    select: SelectSettings = Field(default_factory=SelectSettings)
    evaluate: EvaluateSettings = Field(default_factory=EvaluateSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)

    @model_validator(mode="after")
    def _fractions_leave_training_data(self) -> "FinetuneConfig":
        if self.dataset.val_fraction + self.dataset.test_fraction >= 0.8:
            raise ValueError("dataset.val_fraction + dataset.test_fraction must leave at least 20% for training")
        return self


def parse_finetune_config(section: dict[str, Any] | None, where: str = "engagement.yaml") -> FinetuneConfig:
    """Validate a `finetune:` mapping; errors name the key."""
    try:
        return FinetuneConfig.model_validate(section or {})
    except ValidationError as e:
        raise invalid_section(where, "finetune", e, "the docstrings in fde_toolkit/slm/config.py") from None
