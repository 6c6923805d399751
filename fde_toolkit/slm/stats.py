"""How sure a quality figure is: 95% intervals and a paired test between two variants.

    wilson_interval(20, 24)                              # (0.641, 0.933): a share of 20 right answers out of 24
    bootstrap_interval(f1s, lambda s: s.mean(axis=-1), vectorised=True)       # a mean, resampled over examples
    bootstrap_interval(pairs, lambda s: macro_f1(s[:, 0], s[:, 1]))           # a corpus metric of (pred, ref) rows
    mcnemar(fine_tuned_ok, few_shot_ok)["verdict"]       # 'better' / 'worse' / 'not distinguishable'
    paired(ok_by_id_a, ok_by_id_b)                       # the two variants' successes on the ids both answered

Wilson's score interval for shares of examples (right at 0/n and n/n, where the normal approximation
is not); a percentile bootstrap over examples for corpus-level metrics (macro-F1, corpus chrF, means);
McNemar's exact test (two-sided binomial on the examples where exactly one variant is right) for
"is variant a better than variant b on the same examples?".
"""

from __future__ import annotations

import math
from typing import Any, Callable, Hashable, Mapping, Sequence

import numpy as np

NOT_DISTINGUISHABLE = "not distinguishable"


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a share `successes / n` (z=1.96: 95%); (0.0, 1.0) when n == 0."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def bootstrap_interval(values_or_pairs: Any, statistic: Callable[[np.ndarray], Any], n_boot: int = 1000,
                       seed: int = 0, level: float = 0.95, vectorised: bool = False) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over examples (rows of `values_or_pairs`, axis 0).

    `statistic` takes a resample shaped like the input (n, ...) and returns a number; with `vectorised`
    it takes a stack of resamples (b, n, ...) and returns b numbers (e.g. `lambda s: s.mean(axis=1)`).
    The same `seed` draws the same resamples, so a report is reproducible."""
    data = np.asarray(values_or_pairs, dtype=object if _has_text(values_or_pairs) else None)
    n = len(data)
    if n == 0:
        raise ValueError("bootstrap_interval needs at least one example")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    if vectorised:
        per_row = max(1, int(np.prod(data.shape[1:])) * n)
        chunk = max(1, 4_000_000 // per_row)  # at most ~4M resampled cells in memory at once
        stats = np.concatenate([np.asarray(statistic(data[idx[i:i + chunk]]), dtype=float).reshape(-1)
                                for i in range(0, n_boot, chunk)])
    else:
        stats = np.fromiter((float(statistic(data[row])) for row in idx), dtype=float, count=n_boot)
    tail = (1 - level) / 2
    lo, hi = np.quantile(stats, [tail, 1 - tail])
    return (float(lo), float(hi))


def _has_text(values: Any) -> bool:
    """Whether the examples hold strings (kept as Python objects, not numpy's fixed-width text)."""
    if isinstance(values, np.ndarray):
        return values.dtype.kind in "OUS"
    for v in values:
        first = v[0] if isinstance(v, (tuple, list)) and v else v
        return isinstance(first, str)
    return False


def mcnemar(a_ok: Sequence[bool], b_ok: Sequence[bool], alpha: float = 0.05) -> dict[str, Any]:
    """McNemar's exact test of two variants answered on the same examples, from a's point of view.

    a_only: examples a got right and b wrong; b_only: the reverse. The two-sided p-value is the binomial
    test of a_only among a_only + b_only at 1/2; verdict 'better' / 'worse' when p < alpha, else
    'not distinguishable' (also when no example tells them apart)."""
    if len(a_ok) != len(b_ok):
        raise ValueError(f"mcnemar pairs examples: {len(a_ok)} and {len(b_ok)} answers")
    a_only = sum(bool(a) and not bool(b) for a, b in zip(a_ok, b_ok))
    b_only = sum(bool(b) and not bool(a) for a, b in zip(a_ok, b_ok))
    out: dict[str, Any] = {"n": len(a_ok), "a_only": a_only, "b_only": b_only, "p_value": 1.0,
                           "verdict": NOT_DISTINGUISHABLE}
    if a_only + b_only == 0:
        return out
    from scipy.stats import binomtest

    p = float(binomtest(a_only, a_only + b_only, 0.5, alternative="two-sided").pvalue)
    out["p_value"] = min(1.0, p)
    if p < alpha:
        out["verdict"] = "better" if a_only > b_only else "worse"
    return out


def paired(a: Mapping[Hashable, bool], b: Mapping[Hashable, bool]) -> tuple[list[bool], list[bool]]:
    """Two variants' per-example successes keyed by example id -> the two lists on the ids both have (a's order)."""
    ids = [k for k in a if k in b]
    return [bool(a[k]) for k in ids], [bool(b[k]) for k in ids]
