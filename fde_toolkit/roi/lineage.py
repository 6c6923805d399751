"""Numbers that remember where they came from.

A `Tracked` value carries the ids of the measurements and assumptions it was computed from; arithmetic
unions them, so every figure of the ROI knows its lineage without bookkeeping:

    q = Tracked(0.93, {"t001.quality"})
    offload = Tracked(0.8, {"routing_offload_share"})
    (q * offload).inputs        # frozenset({"t001.quality", "routing_offload_share"})

Values may be floats or numpy arrays (one entry per Monte Carlo sample, or per tornado run): the
same model code computes a point estimate, its lineage and its distribution.
"""

from __future__ import annotations

import operator
from typing import Any, Callable, Iterable

import numpy as np


def _div(a: Any, b: Any) -> Any:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.true_divide(a, b)


class Tracked:
    """A value (float or numpy array) and the ids of the inputs it depends on."""

    __slots__ = ("value", "inputs")

    def __init__(self, value: Any, inputs: Iterable[str] = ()):
        self.value = value
        self.inputs = frozenset(inputs)

    @staticmethod
    def of(x: Any) -> "Tracked":
        return x if isinstance(x, Tracked) else Tracked(x)

    def _op(self, other: Any, fn: Callable[[Any, Any], Any]) -> "Tracked":
        o = Tracked.of(other)
        return Tracked(fn(self.value, o.value), self.inputs | o.inputs)

    def _rop(self, other: Any, fn: Callable[[Any, Any], Any]) -> "Tracked":
        return Tracked.of(other)._op(self, fn)

    def __add__(self, o: Any) -> "Tracked":
        return self._op(o, operator.add)

    def __radd__(self, o: Any) -> "Tracked":
        return self._rop(o, operator.add)

    def __sub__(self, o: Any) -> "Tracked":
        return self._op(o, operator.sub)

    def __rsub__(self, o: Any) -> "Tracked":
        return self._rop(o, operator.sub)

    def __mul__(self, o: Any) -> "Tracked":
        return self._op(o, operator.mul)

    def __rmul__(self, o: Any) -> "Tracked":
        return self._rop(o, operator.mul)

    def __truediv__(self, o: Any) -> "Tracked":
        return self._op(o, _div)

    def __rtruediv__(self, o: Any) -> "Tracked":
        return self._rop(o, _div)

    def __neg__(self) -> "Tracked":
        return Tracked(-self.value, self.inputs)

    def __repr__(self) -> str:
        return f"Tracked({self.value!r}, inputs={sorted(self.inputs)})"


def combine(fn: Callable[..., Any], *args: Any) -> Tracked:
    """Apply `fn` to the values of `args`; the result depends on all of their inputs."""
    ts = [Tracked.of(a) for a in args]
    return Tracked(fn(*(t.value for t in ts)), frozenset().union(*(t.inputs for t in ts)))


def total(items: Iterable[Any]) -> Tracked:
    """Sum of tracked values (0 with no inputs when empty)."""
    out = Tracked(0.0)
    for x in items:
        out = out + x
    return out


def maximum(a: Any, b: Any) -> Tracked:
    return combine(np.maximum, a, b)


def minimum(a: Any, b: Any) -> Tracked:
    return combine(np.minimum, a, b)


def ceil(a: Any) -> Tracked:
    return combine(np.ceil, a)


def as_float(x: Any) -> float | None:
    """A plain float for JSON (None for nan/inf)."""
    v = x.value if isinstance(x, Tracked) else x
    v = float(np.asarray(v, dtype=float).reshape(-1)[0]) if np.ndim(v) else float(v)
    return v if np.isfinite(v) else None
