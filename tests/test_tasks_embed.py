"""The embedding cache: a re-run embeds only new requests; vectors come back in order and unit length."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from fde_toolkit import FdeError
from fde_toolkit.tasks.embed import EmbeddingCache, SentenceEmbedder


class CountingEmbedder:
    """Deterministic fake model that records what it was asked to embed."""

    cache_key = "counting-v1"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        out = np.zeros((len(texts), 8), dtype=np.float32)
        for i, t in enumerate(texts):
            h = hashlib.blake2b(t.encode(), digest_size=8).digest()
            out[i] = np.frombuffer(h, dtype=np.uint8).astype(np.float32) + 1
        return out


def test_cache_hit_on_rerun_embeds_only_new_texts(tmp_path: Path) -> None:
    emb = CountingEmbedder()
    first = EmbeddingCache(tmp_path).embed(["a", "b", "a", "c"], emb)
    assert sorted(emb.seen) == ["a", "b", "c"]  # duplicates embedded once
    assert np.allclose(np.linalg.norm(first, axis=1), 1.0)
    assert np.allclose(first[0], first[2])

    emb.seen.clear()
    again = EmbeddingCache(tmp_path)
    second = again.embed(["c", "a", "d"], emb)
    assert emb.seen == ["d"]  # only the new text reaches the model
    assert again.hits == 2 and again.misses == 1
    assert np.allclose(second[0], first[3]) and np.allclose(second[1], first[0])

    # another model never reads these vectors
    other = CountingEmbedder()
    other.cache_key = "counting-v2"
    EmbeddingCache(tmp_path).embed(["a"], other)
    assert other.seen == ["a"]


def test_no_cache_folder_embeds_every_time() -> None:
    emb = CountingEmbedder()
    EmbeddingCache(None).embed(["a"], emb)
    EmbeddingCache(None).embed(["a"], emb)
    assert emb.seen == ["a", "a"]


def test_a_broken_shard_is_only_a_miss(tmp_path: Path) -> None:
    emb = CountingEmbedder()
    EmbeddingCache(tmp_path).embed(["a"], emb)
    for shard in (tmp_path / "counting-v1").glob("*.npz"):
        shard.write_bytes(b"not a numpy file")
    emb.seen.clear()
    EmbeddingCache(tmp_path).embed(["a"], emb)
    assert emb.seen == ["a"]


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FdeError, match="tasks.embedding_model"):
        SentenceEmbedder(str(tmp_path / "no-such-model"))
