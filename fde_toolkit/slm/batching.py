"""Batches for fine-tuning: examples of similar length together, so almost no compute goes to padding.

    batches = length_grouped_batches(lengths, batch_size=16, max_tokens=4096, seed=7, epoch=0)
    ids, targets = collate([encoded[i] for i in batches[0]], pad_id)
    padding_waste(batches, lengths)     # share of padded positions that are padding

Sequences are right-padded: with causal attention no real token attends to the padding after it,
so no attention mask is needed and the fast causal kernel runs.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from fde_toolkit.slm.chat import Encoded

IGNORE = -100


def _pack(order: Sequence[int], lengths: Sequence[int], batch_size: int, max_tokens: int) -> list[list[int]]:
    """Cut an ordering into batches of at most `batch_size` examples and `max_tokens` padded tokens."""
    batches: list[list[int]] = []
    cur: list[int] = []
    longest = 0
    for i in order:
        n = lengths[i]
        if cur and (len(cur) >= batch_size or max(longest, n) * (len(cur) + 1) > max_tokens):
            batches.append(cur)
            cur, longest = [], 0
        cur.append(int(i))
        longest = max(longest, n)
    if cur:
        batches.append(cur)
    return batches


def length_grouped_batches(lengths: Sequence[int], batch_size: int, max_tokens: int, seed: int, epoch: int = 0,
                           pool: int = 64) -> list[list[int]]:
    """Shuffle, sort by length within pools of `pool` batches, pack, then shuffle the batch order.

    Deterministic in (seed, epoch); every example appears exactly once."""
    rng = np.random.default_rng([seed, epoch])
    perm = rng.permutation(len(lengths))
    lens = np.asarray(lengths)
    size = max(pool * batch_size, 1)
    batches: list[list[int]] = []
    for start in range(0, len(perm), size):
        chunk = perm[start:start + size]
        chunk = chunk[np.argsort(-lens[chunk], kind="stable")]
        batches.extend(_pack(chunk.tolist(), lengths, batch_size, max_tokens))
    order = rng.permutation(len(batches))
    return [batches[i] for i in order]


def random_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int = 0) -> list[list[int]]:
    """Plain shuffled batches of `batch_size` (what a default data loader does)."""
    rng = np.random.default_rng([seed, epoch])
    perm = rng.permutation(len(lengths)).tolist()
    return [perm[i:i + batch_size] for i in range(0, len(perm), batch_size)]


def sorted_batches(lengths: Sequence[int], max_tokens: int, batch_size: int) -> list[list[int]]:
    """Batches in length order, for evaluation passes."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return _pack(order, lengths, batch_size, max_tokens)


def padding_waste(batches: Sequence[Sequence[int]], lengths: Sequence[int]) -> float:
    """Padding positions / all positions computed, over these batches."""
    real = sum(lengths[i] for b in batches for i in b)
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches if b)
    return 1.0 - real / padded if padded else 0.0


def collate(examples: Sequence[Encoded], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, targets), right-padded. targets[b, t] is the token at t+1 when it is an answer token
    (the end-of-turn token included), else IGNORE: the loss sees the answer only."""
    width = max(e.length for e in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    tgt = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    for b, e in enumerate(examples):
        seq = torch.tensor(e.ids, dtype=torch.long)
        ids[b, :e.length] = seq
        start = max(e.answer_start, 1)
        tgt[b, start - 1:e.length - 1] = seq[start:]
    return ids, tgt
