"""Approximate embeddings for requests that were not embedded: a ridge map from hashed word n-grams.

Very large logs hold far more distinct requests than a CPU embeds in minutes. A weighted sample of
each step's requests is embedded; a linear map from hashed unigrams and bigrams to the embedding
space, fitted on that sample, gives every other request an approximate vector (cosine about 0.9 to
the true one on Banking77), enough to place it at the nearest task centre.

    proj = RequestProjection(seed=7).fit(texts[embedded], vectors[embedded])
    approx = proj.transform(texts[rest])        # unit rows
"""

from __future__ import annotations

import numpy as np
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import Ridge
from tqdm.auto import tqdm

from fde_toolkit.tasks.embed import unit_rows

FIT_ROWS = 6000
FEATURES = 2 ** 16
CHUNK = 20_000


class RequestProjection:
    """Ridge regression from hashed word n-grams of a request to its unit embedding."""

    def __init__(self, seed: int = 7, alpha: float = 0.3, fit_rows: int = FIT_ROWS):
        self.seed, self.alpha, self.fit_rows = seed, alpha, fit_rows
        self.hasher = HashingVectorizer(n_features=FEATURES, ngram_range=(1, 2), alternate_sign=False, norm="l2")
        self.ridge: Ridge | None = None

    def fit(self, texts: list[str], vectors: np.ndarray) -> "RequestProjection":
        if len(texts) > self.fit_rows:
            keep = np.sort(np.random.default_rng(self.seed).choice(len(texts), self.fit_rows, replace=False))
            texts, vectors = [texts[i] for i in keep], vectors[keep]
        self.ridge = Ridge(alpha=self.alpha, solver="sparse_cg", fit_intercept=False, tol=1e-3)
        self.ridge.fit(self.hasher.transform(texts), vectors)
        return self

    def transform(self, texts: list[str]) -> np.ndarray:
        if self.ridge is None:
            raise RuntimeError("fit the projection first")
        out = np.empty((len(texts), self.ridge.coef_.shape[0]), dtype=np.float32)
        for i in tqdm(range(0, len(texts), CHUNK), desc="placing the other requests", unit="chunk",
                      disable=len(texts) <= CHUNK):
            out[i:i + CHUNK] = self.ridge.predict(self.hasher.transform(texts[i:i + CHUNK]))
        return unit_rows(out)


class RequestVectors:
    """Vectors of distinct requests by req_id: a chosen few embedded by the model (and cached), every
    other one projected on demand, chunk by chunk, so the full matrix never sits in memory."""

    def __init__(self, texts: list[str], embedder, cache, seed: int = 7):
        self.texts, self.embedder, self.cache, self.seed = texts, embedder, cache, seed
        self.pos = np.full(len(texts), -1, dtype=np.int64)  # row in self.exact, or -1
        self.exact = np.zeros((0, 0), dtype=np.float32)
        self.projection: RequestProjection | None = None

    def embed(self, ids: np.ndarray) -> None:
        """Embed these requests (those not embedded yet)."""
        ids = np.unique(np.asarray(ids, dtype=np.int64))
        new = ids[self.pos[ids] < 0]
        if not len(new):
            return
        vec = self.cache.embed([self.texts[i] for i in new], self.embedder)
        self.exact = vec if self.exact.size == 0 else np.concatenate([self.exact, vec])
        self.pos[new] = np.arange(len(self.exact) - len(new), len(self.exact))
        self.projection = None

    def is_exact(self, ids: np.ndarray) -> np.ndarray:
        return self.pos[np.asarray(ids, dtype=np.int64)] >= 0

    def get(self, ids: np.ndarray) -> np.ndarray:
        """Unit vectors for these requests: the model's where embedded, else the projection's."""
        ids = np.asarray(ids, dtype=np.int64)
        out = np.empty((len(ids), self.exact.shape[1]), dtype=np.float32)
        have = self.pos[ids] >= 0
        out[have] = self.exact[self.pos[ids[have]]]
        if (~have).any():
            if self.projection is None:
                done = np.flatnonzero(self.pos >= 0)
                self.projection = RequestProjection(seed=self.seed).fit([self.texts[i] for i in done],
                                                                        self.exact[self.pos[done]])
            out[~have] = self.projection.transform([self.texts[i] for i in ids[~have]])
        return out

    @property
    def n_exact(self) -> int:
        return int((self.pos >= 0).sum())
