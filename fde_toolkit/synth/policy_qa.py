"""Task 4, policy Q&A: RAG over the fixed knowledge base; 1-3 sentence answers."""

from __future__ import annotations

import random
from typing import Any

from fde_toolkit.synth.knowledge_base import KNOWLEDGE_BASE
from fde_toolkit.synth.story import _Story
from fde_toolkit.synth.text import _noisy, _pick

_QA_SYSTEM_HEAD = (
    "You are the Northwind Mutual policy assistant. Answer the member's question in one to three "
    "sentences using only the policy excerpts below. Be specific about amounts and limits. If the "
    "excerpts do not answer the question, say you will connect them with a licensed agent.\n\n"
    "Policy excerpts:\n"
)

_QUESTION_OPENERS = ("", "", "", "Quick question: ", "Hi, ", "Hello, ", "Hi there. ")
_QUESTION_CLOSERS = ("", "", " Thanks.", " thx")


def _question(kb: int, r: random.Random, phone: bool) -> str:
    q = _noisy(_pick(r, KNOWLEDGE_BASE[kb]["questions"]), r, phone)
    if phone:
        return "caller: " + q
    return _pick(r, _QUESTION_OPENERS) + q + _pick(r, _QUESTION_CLOSERS)


def render_call(st: _Story, r: random.Random, label: int, phone: bool,
                prev: tuple[list[dict], dict] | None = None) -> tuple[list[dict], dict, dict[str, Any]]:
    """(messages, response message, extra request keys) of a Q&A call about KB entry `label`.

    The excerpts shown are the entry and up to two others. A follow-up carries the session's first Q&A
    (`prev`: its messages and answer) in context; a first question is the session's first message if it has one.
    """
    entry = KNOWLEDGE_BASE[label]
    others = [i for i in (int(r.random() * len(KNOWLEDGE_BASE)) for _ in range(3)) if i != label][:2]
    ids = [label, *others]
    r.shuffle(ids)
    sys_ = _QA_SYSTEM_HEAD + "\n".join(f"[{KNOWLEDGE_BASE[i]['id']}] {KNOWLEDGE_BASE[i]['excerpt']}" for i in ids)
    if prev is not None:
        q = _question(label, r, phone)
        msgs = [{"role": "system", "content": sys_}, *prev[0][1:], prev[1], {"role": "user", "content": q}]
    else:
        q = st.first_msg or _question(label, r, phone)
        msgs = [{"role": "system", "content": sys_}, {"role": "user", "content": q}]
    out = {"role": "assistant", "content": _pick(r, entry["answers"])}
    return msgs, out, {}
