"""How an example becomes the SLM's chat prompt and answer tokens, the same way for training and inference.

    msgs = prompt_messages(example)                         # logged conversation (+ tool list) for the SLM
    enc = encode_examples(tok, [msgs], [target], 1024)[0]   # prompt ids + answer ids, answer ends in <|im_end|>
    ids = encode_prompts(tok, [msgs])[0]                    # what the model sees at inference

The answer is exactly what the chat template puts after the generation prompt, trailing whitespace
dropped, so it ends with the template's end-of-turn token: the model learns to stop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

Message = dict[str, str]


@dataclass
class Encoded:
    """One training example as token ids; `answer_start` is the index of the first answer token."""

    ids: list[int]
    answer_start: int
    truncated: bool = False

    @property
    def length(self) -> int:
        return len(self.ids)


def render_tools(tools: list[dict[str, Any]] | None, style: str = "compact") -> str:
    """The tools offered, as text for a model without native tool support, plus the answer format."""
    if not tools:
        return ""
    if style == "full":
        listing = json.dumps(tools, ensure_ascii=False)
    else:
        lines = []
        for t in tools:
            fn = t.get("function", t)
            props = (fn.get("parameters") or {}).get("properties") or {}
            params = ", ".join(f"{k}: {v.get('type', 'any')}" if isinstance(v, dict) else k for k, v in props.items())
            desc = (fn.get("description") or "").strip()
            lines.append(f"- {fn.get('name')}({params})" + (f": {desc}" if desc else ""))
        listing = "\n".join(lines)
    return ("Tools you can call:\n" + listing + "\nAnswer with one JSON object: "
            '{"name": <tool name>, "arguments": {<argument>: <value>}}')


def prompt_messages(example: dict[str, Any], system_prompt: str = "keep",
                    tools_in_prompt: str = "compact") -> list[Message]:
    """The conversation the SLM answers: the logged request, the system prompt kept or dropped, tools appended."""
    msgs = [{"role": m["role"], "content": m.get("content") or ""} for m in example["messages"]]
    if system_prompt == "drop":
        msgs = [m for m in msgs if m["role"] != "system"]
    tools_text = render_tools(example.get("tools"), tools_in_prompt)
    if tools_text:
        if msgs and msgs[0]["role"] == "system":
            msgs[0] = {"role": "system", "content": msgs[0]["content"].rstrip() + "\n\n" + tools_text}
        else:
            msgs.insert(0, {"role": "system", "content": tools_text})
    return msgs


def few_shot_messages(query: list[Message], shots: Sequence[tuple[list[Message], str]]) -> list[Message]:
    """The query's system prompt, then each shot's request and answer as earlier turns, then the query."""
    system = [m for m in query if m["role"] == "system"]
    out = list(system)
    for msgs, answer in shots:
        out.extend(m for m in msgs if m["role"] != "system")
        out.append({"role": "assistant", "content": answer})
    out.extend(m for m in query if m["role"] != "system")
    return out


def _answer_text(tok, prompt_text: str, messages: list[Message], target: str) -> str:
    full = tok.apply_chat_template(messages + [{"role": "assistant", "content": target}], tokenize=False)
    if full.startswith(prompt_text):
        ans = full[len(prompt_text):].rstrip()
    else:  # a template that rewrites history: fall back to the target and the end-of-sequence token
        ans = target
    eos = tok.eos_token or ""
    if not any(s and ans.endswith(s) for s in _end_tokens_text(tok)) and eos:
        ans += eos
    return ans


def _end_tokens_text(tok) -> list[str]:
    return [t for t in {tok.eos_token, "<|im_end|>", "<|eot_id|>", "<|end|>", "</s>", "<end_of_turn>"} if t]


def prompt_texts(tok, conversations: Sequence[list[Message]]) -> list[str]:
    return [tok.apply_chat_template(list(m), tokenize=False, add_generation_prompt=True) for m in conversations]


def encode_prompts(tok, conversations: Sequence[list[Message]]) -> list[list[int]]:
    """Prompt token ids (generation prompt included) for inference."""
    texts = prompt_texts(tok, conversations)
    return [list(x) for x in tok(texts, add_special_tokens=False)["input_ids"]]


def encode_examples(tok, conversations: Sequence[list[Message]], targets: Sequence[str],
                    max_length: int) -> list[Encoded | None]:
    """Prompt + answer ids per example; None where even the answer alone does not fit `max_length`.

    A prompt that is too long loses its middle (its start and the generation prompt at its end stay)."""
    p_texts = prompt_texts(tok, conversations)
    a_texts = [_answer_text(tok, p, list(m), t) for p, m, t in zip(p_texts, conversations, targets)]
    p_ids = tok(p_texts, add_special_tokens=False)["input_ids"]
    a_ids = tok(a_texts, add_special_tokens=False)["input_ids"]
    out: list[Encoded | None] = []
    for p, a in zip(p_ids, a_ids):
        p, a = list(p), list(a)
        truncated = False
        if len(p) + len(a) > max_length:
            keep = max_length - len(a)
            if keep < 8:
                out.append(None)
                continue
            head = keep // 4
            p = p[:head] + p[len(p) - (keep - head):]
            truncated = True
        out.append(Encoded(p + a, len(p), truncated))
    return out


def stop_token_ids(tok) -> list[int]:
    """Token ids that end the answer: the chat template's end-of-turn and the tokenizer's end-of-sequence."""
    ids: set[int] = set()
    vocab = tok.get_vocab()
    for t in _end_tokens_text(tok):
        if t in vocab:
            ids.add(vocab[t])
    if tok.eos_token_id is not None:
        ids.add(int(tok.eos_token_id))
    # the end-of-turn the template actually writes after an answer
    probe = encode_examples(tok, [[{"role": "user", "content": "x"}]], ["y"], 10_000)[0]
    if probe is not None:
        special = set(getattr(tok, "all_special_ids", []))
        tail = probe.ids[probe.answer_start:]
        if tail and tail[-1] in special:
            ids.add(tail[-1])
    return sorted(ids)
