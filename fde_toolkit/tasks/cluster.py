"""The second level of discovery: split an open-ended step into kinds of request with k-means.

    split = split_requests(vectors, weights, k_range=(2, 300), seed=7)
    split.labels, split.k, split.centres, split.curve, split.reason
    nearest_centre(other_vectors, split.centres)

How it works, and why (measured on Banking77, see benchmarks/RESULTS.md):
- Each request vector is replaced by the mean of its `NEIGHBOURS` nearest requests (itself included)
  before k-means. This denoises the embedding space: requests of one kind pull together, and k-means
  recovers kinds of request better than on the raw vectors (NMI 0.83 vs 0.80 on Banking77).
- k is chosen on a sample by the mean silhouette (cosine, on the raw vectors) over a geometric grid
  of k values: the smallest k whose smoothed score is within `TOLERANCE` of the best. Over-splitting
  a little costs less than merging two kinds of request, and the curve is kept for the report.
- When no k reaches `MIN_SILHOUETTE`, the requests show no kinds worth separating: the step stays whole.
- Large steps: k-means runs on the embedded sample of a step's distinct requests (see discover.py);
  every other request goes to the nearest centre (its members' mean, raw space), so cost grows with
  distinct requests, not calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from sklearn.cluster import KMeans, kmeans_plusplus
from tqdm.auto import tqdm

NEIGHBOURS = 10
TOLERANCE = 0.02  # relative to the best silhouette
MIN_SILHOUETTE = 0.10
CURVE_SAMPLE = 4000
CURVE_POINTS = 16
MIN_PER_KIND = 20  # the curve stops where the sample would average fewer requests per kind
MIN_SPLIT = 3  # a step with fewer distinct requests is not split
N_INIT = 3


@dataclass
class Split:
    """One step split into kinds of request: a label per request, the centres, the chosen k and why."""

    labels: np.ndarray
    k: int
    centres: np.ndarray  # unit vectors in the embedding space, one per kind of request
    curve: list[dict] = field(default_factory=list)
    reason: str = ""
    pinned: bool = False


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def neighbour_mean(x: np.ndarray, ref: np.ndarray, m: int = NEIGHBOURS, ref_weights: np.ndarray | None = None,
                   block: int = 2048) -> np.ndarray:
    """Each row of x replaced by the unit-length mean of its m nearest calls among ref (cosine).

    A ref row of weight w stands for w identical requests: a request repeated m times or more is
    its own neighbourhood.
    """
    w = np.ones(len(ref)) if ref_weights is None else np.asarray(ref_weights, dtype=np.float64)
    m_rows = max(1, min(m, len(ref)))
    out = np.empty_like(x)
    for i in range(0, len(x), block):
        sims = x[i:i + block] @ ref.T
        if m_rows < ref.shape[0]:
            idx = np.argpartition(-sims, m_rows - 1, axis=1)[:, :m_rows]
        else:
            idx = np.broadcast_to(np.arange(ref.shape[0]), (sims.shape[0], ref.shape[0])).copy()
        order = np.argsort(-np.take_along_axis(sims, idx, axis=1), axis=1, kind="stable")
        idx = np.take_along_axis(idx, order, axis=1)
        wn = w[idx]
        before = np.cumsum(wn, axis=1) - wn
        take = np.clip(m - before, 0.0, wn)  # nearest first, until m calls are counted
        out[i:i + block] = (ref[idx] * take[:, :, None]).sum(axis=1)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norms == 0, 1, norms)).astype(np.float32)


def weighted_order(weights: np.ndarray, seed: int) -> np.ndarray:
    """A random order of the rows where heavier rows tend to come first (Efraimidis-Spirakis keys).

    Any prefix is a weighted sample without replacement, and a longer prefix contains a shorter one.
    """
    w = np.maximum(np.asarray(weights, dtype=np.float64), 1e-12)
    keys = np.log(_rng(seed).random(len(w))) / w
    return np.argsort(-keys, kind="stable")


def weighted_sample(weights: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices of up to `size` rows drawn without replacement, probability by weight; sorted."""
    if len(weights) <= size:
        return np.arange(len(weights))
    return np.sort(weighted_order(weights, seed)[:size])


def fit_kmeans(x: np.ndarray, weights: np.ndarray, k: int, seed: int, n_init: int = N_INIT,
               max_iter: int = 100) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted k-means, best of `n_init` k-means++ starts: (centres, labels, inertia). Deterministic."""
    k = max(1, min(k, len(x)))
    best = None
    for i in range(n_init):
        init, _ = kmeans_plusplus(x, k, sample_weight=weights, random_state=seed + i, n_local_trials=1)
        km = KMeans(k, init=init, n_init=1, max_iter=max_iter, random_state=seed + i).fit(x, sample_weight=weights)
        if best is None or km.inertia_ < best.inertia_:
            best = km
    return best.cluster_centers_.astype(np.float32), best.labels_.astype(np.int64), float(best.inertia_)


def nearest_centre(x: np.ndarray, centres: np.ndarray, block: int = 8192) -> np.ndarray:
    """Index of the nearest centre (squared Euclidean) for each row."""
    c2 = (centres ** 2).sum(1)
    out = np.empty(len(x), dtype=np.int64)
    for i in range(0, len(x), block):
        out[i:i + block] = np.argmin(c2[None, :] - 2 * x[i:i + block] @ centres.T, axis=1)
    return out


def k_grid(lo: int, hi: int, points: int = CURVE_POINTS) -> list[int]:
    return sorted({int(round(v)) for v in np.geomspace(lo, hi, points)}) if hi > lo else [lo]


def weighted_silhouette(x: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> float:
    """Mean silhouette (cosine) where a row of weight w stands for w identical requests."""
    dist = 1.0 - x @ x.T
    np.clip(dist, 0.0, 2.0, out=dist)
    k = int(labels.max()) + 1
    onehot = sparse.csr_matrix((weights, (np.arange(len(x)), labels)), shape=(len(x), k))
    sums = np.asarray(onehot.T @ dist).T  # (n, k): weighted distance from each row to each cluster
    size = np.asarray(onehot.sum(axis=0)).ravel()  # weight of each cluster
    own = size[labels] - 1.0  # the other copies of the same request are at distance 0
    a = np.where(own > 0, sums[np.arange(len(x)), labels] / np.maximum(own, 1e-12), 0.0)
    other = sums / np.maximum(size, 1e-12)[None, :]
    other[np.arange(len(x)), labels] = np.inf
    other[:, size == 0] = np.inf
    b = other.min(axis=1)
    s = np.where(own > 0, (b - a) / np.maximum(np.maximum(a, b), 1e-12), 0.0)
    return float(np.average(s, weights=weights))


def criterion_curve(raw: np.ndarray, smooth: np.ndarray, weights: np.ndarray, k_range: tuple[int, int],
                    seed: int) -> list[dict]:
    """Mean silhouette (cosine, raw vectors) of weighted k-means on the smoothed vectors, per k.

    Scored over distinct requests, each once (up to CURVE_SAMPLE of them, drawn by call count):
    counting repeats would reward isolating every often-repeated request as a cluster of its own.
    """
    s = weighted_sample(weights, CURVE_SAMPLE, seed)
    lo, hi = k_range
    hi = min(hi, len(s) - 1, max(lo, len(s) // MIN_PER_KIND))
    curve = []
    for k in tqdm(k_grid(lo, hi), desc="choosing the number of tasks", unit="k", leave=False, disable=None):
        if k >= len(s):
            break
        _, labels, _ = fit_kmeans(smooth[s], weights[s], k, seed, n_init=1, max_iter=50)
        labels = np.unique(labels, return_inverse=True)[1]
        score = weighted_silhouette(raw[s], labels, np.ones(len(s))) if labels.max() > 0 else -1.0
        curve.append({"k": k, "silhouette": round(score, 4)})
    return curve


def choose_k(curve: list[dict]) -> tuple[int, str]:
    """The smallest k whose smoothed silhouette is within TOLERANCE of the best, or 1 when no k
    reaches MIN_SILHOUETTE. Smoothing (the mean of each point and its grid neighbours) keeps one
    lucky k-means run from deciding."""
    if not curve:
        return 1, "no split: too few distinct requests"
    raw = np.array([c["silhouette"] for c in curve])
    ks = [c["k"] for c in curve]
    if raw.max() < MIN_SILHOUETTE:
        return 1, (f"no split: the best silhouette ({raw.max():.3f}) is below {MIN_SILHOUETTE}, "
                   "so the requests show no distinct kinds")
    smooth = np.array([raw[max(0, i - 1):i + 2].mean() for i in range(len(raw))])
    best = smooth.max()
    k = min(k for k, v in zip(ks, smooth) if v >= best - TOLERANCE * abs(best))
    return k, (f"k={k}: the smallest k whose smoothed silhouette is within {TOLERANCE:.0%} of the best "
               f"({best:.3f} near k={ks[int(np.argmax(smooth))]}) over k in {ks[0]}..{ks[-1]}")


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return (x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def member_centres(vectors: np.ndarray, weights: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Unit weighted mean of each label's vectors."""
    onehot = sparse.csr_matrix((weights, (labels, np.arange(len(labels)))), shape=(k, len(labels)))
    return _unit_rows(np.asarray(onehot @ vectors))


def split_requests(vectors: np.ndarray, weights: np.ndarray, k_range: tuple[int, int], seed: int,
                   k: int | None = None) -> Split:
    """Split one step's embedded requests (unit vectors, call counts as weights) into kinds of request.

    Returns labels for these rows and the centres (members' mean, raw space) that place any other
    request of the step by `nearest_centre`.
    """
    n = len(vectors)
    weights = np.asarray(weights, dtype=np.float64)
    one = lambda reason, curve=(), pinned=False: Split(  # noqa: E731
        np.zeros(n, dtype=np.int64), 1, member_centres(vectors, weights, np.zeros(n, dtype=np.int64), 1),
        list(curve), reason, pinned)
    if n < MIN_SPLIT and k is None:
        return one(f"no split: only {n} distinct request(s)")
    smooth = neighbour_mean(vectors, vectors, ref_weights=weights)
    curve: list[dict] = []
    pinned = k is not None
    if k is None:
        curve = criterion_curve(vectors, smooth, weights, k_range, seed)
        k, reason = choose_k(curve)
    else:
        reason = f"k={k} pinned by the engagement settings"
    if k <= 1:
        return one(reason, curve, pinned)
    _, labels, _ = fit_kmeans(smooth, weights, k, seed)
    labels = np.unique(labels, return_inverse=True)[1].astype(np.int64)
    k_found = int(labels.max()) + 1
    return Split(labels, k_found, member_centres(vectors, weights, labels, k_found), curve, reason, pinned)
