"""Small text helpers: seeded picks, dates as customers write them, money, token counts, typing noise."""

from __future__ import annotations

import random
from datetime import date

from fde_toolkit.synth.vocab import _DATE_FORMATS


def _date_variants(d: date) -> list[str]:
    """Every way the generator writes a date in customer text (tests check extracted dates against these)."""
    return [d.strftime(f.format(d=d.day, m=d.month)) for f in _DATE_FORMATS]


def _fmt_date(d: date, r: random.Random) -> str:
    f = _DATE_FORMATS[int(r.random() * len(_DATE_FORMATS))]
    return d.strftime(f.format(d=d.day, m=d.month))


def _pick(r: random.Random, seq):
    return seq[int(r.random() * len(seq))]


def _money(x: int) -> str:
    return f"${x:,}"


def _tok(text: str) -> int:
    """Approximate token count of text (about 4 characters a token for English and JSON)."""
    return (len(text) + 3) // 4


def _noisy(tpl: str, r: random.Random, phone: bool) -> str:
    """Light human noise on a template before its slots are filled, so PII and ids stay intact."""
    if phone:  # contact-centre speech-to-text: lower case, little punctuation
        return tpl.lower().replace(",", "").replace("?", "").replace("!", "").replace(".", "")
    x = r.random()
    if x < 0.10:
        tpl = tpl.lower()
    elif x < 0.18 and tpl and tpl[-1] in ".?!":
        tpl = tpl[:-1]
    if r.random() < 0.12:
        words = tpl.split(" ")
        cand = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
        if cand:
            i = _pick(r, cand)
            w = words[i]
            j = 1 + int(r.random() * (len(w) - 2))
            words[i] = w[:j - 1] + w[j] + w[j - 1] + w[j + 1:]
            tpl = " ".join(words)
    return tpl
