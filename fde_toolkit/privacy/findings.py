"""What a detector finds: a Hit (the exact text to replace and the value it holds) and the Detector shape."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Hit:
    """One validated finding: `literal` (= prefix + value + suffix) is replaced wherever it occurs."""

    literal: str
    entity: str
    detector: str
    value: str
    normalised: str
    prefix: str = ""
    suffix: str = ""


Validator = Callable[[str], list[Hit]]


@dataclass(frozen=True)
class Detector:
    name: str
    pattern: str  # Rust regex, run by polars
    validate: Validator
