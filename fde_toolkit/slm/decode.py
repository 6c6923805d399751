"""Answers from an SLM, shaped by the task: labels and tool names chosen only from the allowed set.

    scores = score_continuations(model, prompts, label_ids)        # log-likelihood of every label, batched
    labels = choose_labels(model, tok, prompts, ["refund", "claim_status"], mode="score")
    texts = generate(model, tok, prompts, max_new_tokens=128)         # free text / JSON, greedy
    calls = generate_tool_calls(model, tok, prompts, ["lookup_policy", ...])
    calls = generate_tool_calls(model, tok, prompts, names, offered=[["requests.get", ...], ...])  # per request
    answers = predict(model, tok, conversations, kind="label", labels=[...])
    answers = predict(..., progress="evaluating t03")             # a tqdm bar over the examples, with the time left

A free-running small model invents labels; scoring the allowed ones (or decoding inside them) cannot.
Every function that answers prompts takes `progress`: False (the default: no output), True or a
description (a tqdm.auto bar over the examples with the time left: a line in a terminal, a widget in
a notebook), or a bar already open (anything with update(n)), which its owner closes.
Tool names are matched by `tools.tool_key`: the names a specialist may answer with are the ones the
logged answers use (`requests_get`), whichever spelling a request offered (`requests.get`).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import numpy as np
import torch

from fde_toolkit.slm.chat import Message, encode_examples, encode_prompts, stop_token_ids
from fde_toolkit.slm.tools import tool_key

TOOL_HEAD = '{"name": "'
TOOL_TAIL = '", "arguments":'


def _cache_kw() -> str:
    """The forward() keyword for a KV cache: `cache` in recent transformers, `past_key_values` before."""
    import inspect

    from transformers import LlamaForCausalLM
    return "cache" if "cache" in inspect.signature(LlamaForCausalLM.forward).parameters else "past_key_values"


CACHE_KW = _cache_kw()


Progress = Any  # bool | str | an open tqdm-like bar


@contextmanager
def examples_bar(progress: Progress, total: int, desc: str = "answering") -> Iterator[Any]:
    """A tqdm.auto bar over `total` examples (time left included), disabled when `progress` is falsy; an open
    bar (anything with update) is passed through and left open."""
    if hasattr(progress, "update"):
        yield progress
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=progress if isinstance(progress, str) else desc, unit="example",
               disable=not progress, dynamic_ncols=True)
    try:
        yield bar
    finally:
        bar.close()


def _device(model) -> torch.device:
    return next(model.parameters()).device


def answer_ids(tok, answers: Sequence[str]) -> list[list[int]]:
    """Token ids of each answer as the model emits it after the generation prompt (end-of-turn included)."""
    probe = [{"role": "user", "content": "x"}]
    encs = encode_examples(tok, [probe] * len(answers), list(answers), 1_000_000)
    return [e.ids[e.answer_start:] for e in encs]


@torch.inference_mode()
def score_continuations(model, prompts: Sequence[list[int]], continuations: Sequence[list[int]],
                        chunk: int = 64, normalise: bool = False, progress: Progress = False) -> np.ndarray:
    """[prompts x continuations] summed log-probabilities of each continuation after each prompt.

    The prompt runs once; its cache is shared by all continuations, scored in one batched pass per chunk."""
    dev = _device(model)
    out = np.zeros((len(prompts), len(continuations)), dtype=np.float64)
    lens = torch.tensor([len(c) for c in continuations])
    with examples_bar(progress, len(prompts)) as bar:
        for pi, p in enumerate(prompts):
            first = model(input_ids=torch.tensor([p], device=dev), use_cache=True)
            base_cache = getattr(first, CACHE_KW)
            last = torch.log_softmax(first.logits[0, -1].float(), -1)
            for c0 in range(0, len(continuations), chunk):
                cs = continuations[c0:c0 + chunk]
                width = max(len(c) for c in cs)
                ids = torch.zeros((len(cs), width), dtype=torch.long)
                for i, c in enumerate(cs):
                    ids[i, :len(c)] = torch.tensor(c)
                ids = ids.to(dev)
                cache = _copy_cache(base_cache, len(cs))
                logits = model(input_ids=ids, use_cache=True, **{CACHE_KW: cache}).logits.float()
                logp = torch.log_softmax(logits, -1)
                # token j of a continuation is predicted by position j-1 (j = 0: the prompt's last position)
                tok_lp = torch.empty((len(cs), width), device=dev)
                tok_lp[:, 0] = last[ids[:, 0]]
                if width > 1:
                    tok_lp[:, 1:] = logp[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]
                mask = torch.arange(width, device=dev)[None, :] < lens[c0:c0 + chunk, None].to(dev)
                s = (tok_lp * mask).sum(-1)
                if normalise:
                    s = s / lens[c0:c0 + chunk].to(dev)
                out[pi, c0:c0 + len(cs)] = s.double().cpu().numpy()
            bar.update(1)
    return out


def _copy_cache(cache, repeats: int):
    import copy
    c = copy.copy(cache)
    c.layers = [copy.copy(layer) for layer in cache.layers]
    c.batch_repeat_interleave(repeats)
    return c


def _left_pad(prompts: Sequence[list[int]], pad_id: int, dev) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for i, p in enumerate(prompts):
        ids[i, width - len(p):] = torch.tensor(p)
        mask[i, width - len(p):] = 1
    return ids.to(dev), mask.to(dev)


@torch.inference_mode()
def _generate_ids(model, tok, prompts: Sequence[list[int]], max_new_tokens: int, batch_size: int = 8,
                  allowed=None, progress: Progress = False) -> list[list[int]]:
    """Greedy continuations (ids, cut at the first stop token), batched by similar prompt length."""
    dev = _device(model)
    stops = stop_token_ids(tok)
    pad = tok.pad_token_id if tok.pad_token_id is not None else stops[0]
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[list[int]] = [[] for _ in prompts]
    with examples_bar(progress, len(prompts)) as bar:
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            ids, mask = _left_pad([prompts[i] for i in idx], pad, dev)
            width = ids.shape[1]
            fn = None
            if allowed is not None:
                fn = lambda b, row: allowed(row[width:].tolist())  # noqa: E731
            gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens, do_sample=False,
                                 eos_token_id=stops, pad_token_id=pad, prefix_allowed_tokens_fn=fn,
                                 temperature=None, top_p=None, top_k=None)
            for j, i in enumerate(idx):
                seq = gen[j, width:].tolist()
                cut = next((k for k, t in enumerate(seq) if t in stops), len(seq))
                out[i] = seq[:cut]
            bar.update(len(idx))
    return out


def generate(model, tok, prompts: Sequence[list[int]], max_new_tokens: int = 256, batch_size: int = 8,
             progress: Progress = False) -> list[str]:
    """Free greedy answers, decoded without special tokens."""
    return [tok.decode(s, skip_special_tokens=True).strip()
            for s in _generate_ids(model, tok, prompts, max_new_tokens, batch_size, progress=progress)]


def _trie(seqs: Sequence[list[int]]) -> dict[tuple[int, ...], list[int]]:
    nxt: dict[tuple[int, ...], set[int]] = {}
    for s in seqs:
        for k in range(len(s)):
            nxt.setdefault(tuple(s[:k]), set()).add(s[k])
    return {k: sorted(v) for k, v in nxt.items()}


def choose_sequences(model, tok, prompts: Sequence[list[int]], seqs: Sequence[list[int]], mode: str = "score",
                     batch_size: int = 8, progress: Progress = False) -> list[int]:
    """Index of the chosen sequence per prompt: by full log-likelihood ("score") or greedy inside a trie ("greedy")."""
    if mode == "score":
        return score_continuations(model, prompts, seqs, progress=progress).argmax(1).tolist()
    trie = _trie(seqs)
    stops = stop_token_ids(tok)
    fallback = stops[:1]

    def allowed(prefix: list[int]) -> list[int]:
        return trie.get(tuple(prefix), fallback)

    exact: dict[tuple[int, ...], int] = {}
    for i, s in enumerate(seqs):
        exact.setdefault(tuple(s[:-1]) if s and s[-1] in stops else tuple(s), i)
    gen = _generate_ids(model, tok, prompts, max(len(s) for s in seqs), batch_size, allowed=allowed,
                        progress=progress)
    return [exact[tuple(g)] if tuple(g) in exact else int(np.argmax([len(_common(g, s)) for s in seqs])) for g in gen]


def _common(a: list[int], b: Sequence[int]) -> list[int]:
    k = 0
    while k < min(len(a), len(b)) and a[k] == b[k]:
        k += 1
    return a[:k]


def choose_labels(model, tok, prompts: Sequence[list[int]], labels: Sequence[str], mode: str = "score",
                  batch_size: int = 8, progress: Progress = False) -> list[str]:
    """One allowed label per prompt, never anything else."""
    seqs = answer_ids(tok, labels)
    return [labels[i] for i in choose_sequences(model, tok, prompts, seqs, mode, batch_size, progress)]


def allowed_tool_names(tool_names: Sequence[str], offered: Sequence[str] | None = None) -> list[str]:
    """The names an answer may call: `tool_names` (the answers' spellings), one per tool_key (the
    provider-safe spelling when both are given, else the first); with `offered` (the tools one request
    offers, as it logged them) only those, each spelled as in `tool_names`, or by its key when
    `tool_names` lacks it (a tool never seen in training). No offered tool: all of `tool_names`."""
    known: dict[str, str] = {}
    for n in tool_names:
        k = tool_key(n)
        if k not in known or (n == k and known[k] != k):
            known[k] = n
    if not offered:
        return list(known.values())
    keys = {tool_key(o) for o in offered}
    out = [n for k, n in known.items() if k in keys]
    for o in offered:
        if tool_key(o) not in known and tool_key(o) not in out:
            out.append(tool_key(o))
    return out


def generate_tool_calls(model, tok, prompts: Sequence[list[int]], tool_names: Sequence[str], max_new_tokens: int = 128,
                        batch_size: int = 8, offered: Sequence[Sequence[str] | None] | None = None,
                        progress: Progress = False) -> list[str]:
    """Tool calls as {"name": ..., "arguments": {...}}: the name scored among the allowed tools, the
    arguments generated freely after it. `offered` (one list per prompt) narrows each prompt's names to
    the tools its request offered (allowed_tool_names). The progress bar counts an example when its
    arguments are done (choosing the name takes a fraction of that time)."""
    if offered is None:
        return _tool_calls_among(model, tok, prompts, allowed_tool_names(tool_names), max_new_tokens, batch_size,
                                 progress)
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, o in enumerate(offered):
        groups.setdefault(tuple(allowed_tool_names(tool_names, o)), []).append(i)
    out: list[str] = [""] * len(prompts)
    with examples_bar(progress, len(prompts)) as bar:
        for names, idx in groups.items():
            part = [prompts[i] for i in idx]
            texts = (_tool_calls_among(model, tok, part, list(names), max_new_tokens, batch_size, bar) if names
                     else generate(model, tok, part, max_new_tokens, batch_size, progress=bar))  # no tool offered
            for i, text in zip(idx, texts):
                out[i] = text
    return out


def _tool_calls_among(model, tok, prompts: Sequence[list[int]], tool_names: Sequence[str], max_new_tokens: int,
                      batch_size: int, progress: Progress = False) -> list[str]:
    texts = [f"{TOOL_HEAD}{n}{TOOL_TAIL}" for n in tool_names]
    seqs = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    head = seqs[0]
    for s in seqs[1:]:
        head = _common(list(head), s)
    rests = [s[len(head):] for s in seqs]
    if any(not r for r in rests):  # a tokenizer merged a name into the common prefix: score whole strings
        head, rests = [], seqs
    pick = choose_sequences(model, tok, [p + head for p in prompts], rests, "score")
    forced = [p + head + rests[i] for p, i in zip(prompts, pick)]
    tails = _generate_ids(model, tok, forced, max_new_tokens, batch_size, progress=progress)
    return [tok.decode(head + rests[i] + t, skip_special_tokens=True).strip() for i, t in zip(pick, tails)]


def label_mode(setting: str, n_labels: int) -> str:
    """"auto": exact scoring for small label sets, greedy decoding inside the set for large ones."""
    if setting != "auto":
        return setting
    return "score" if n_labels <= 24 else "greedy"


def predict(model, tok, conversations: Sequence[list[Message]], kind: str, labels: Sequence[str] | None = None,
            tool_names: Sequence[str] | None = None, max_new_tokens: int = 256, batch_size: int = 8,
            label_decoding: str = "auto", offered_tools: Sequence[Sequence[str] | None] | None = None,
            progress: Progress = False) -> list[str]:
    """The SLM's answer to each conversation, decoded the way the output kind calls for.

    `offered_tools` (one list of names per conversation) limits each tool call to its request's tools.
    `progress`: False (no output), True or a description: a tqdm bar over the conversations with
    the time left; or an open bar to advance."""
    prompts = encode_prompts(tok, conversations)
    with examples_bar(progress, len(prompts)) as bar:
        if kind == "label" and labels:
            return choose_labels(model, tok, prompts, list(labels), label_mode(label_decoding, len(labels)),
                                 batch_size, progress=bar)
        if kind == "tool_call" and (tool_names or (offered_tools and any(offered_tools))):
            return generate_tool_calls(model, tok, prompts, list(tool_names or []), max_new_tokens, batch_size,
                                       offered=offered_tools, progress=bar)
        return generate(model, tok, prompts, max_new_tokens, batch_size, progress=bar)
