"""Seeded PII: Luhn-valid card numbers, real-format US phone numbers, emails and postal addresses."""

from __future__ import annotations

import random

from fde_toolkit.synth.text import _pick
from fde_toolkit.synth.vocab import _AREA_CODES, _CITIES, _DOMAINS, _STREETS, _SUFFIXES


def _luhn_complete(digits: str) -> str:
    """Append the Luhn check digit to a card number's first digits."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return digits + str((10 - total % 10) % 10)


def _card(r: random.Random) -> str:
    """A Luhn-valid test card number (Visa, Mastercard or Amex prefix) in one of the usual layouts."""
    kind = r.random()
    if kind < 0.55:
        num = _luhn_complete("4" + "".join(str(int(r.random() * 10)) for _ in range(14)))
    elif kind < 0.9:
        num = _luhn_complete("5" + str(1 + int(r.random() * 5)) + "".join(str(int(r.random() * 10)) for _ in range(13)))
    else:
        num = _luhn_complete("37" + "".join(str(int(r.random() * 10)) for _ in range(12)))
        sep = _pick(r, (" ", "-", ""))
        return sep.join((num[:4], num[4:10], num[10:]))
    sep = _pick(r, (" ", " ", "-", ""))
    return sep.join(num[i:i + 4] for i in range(0, 16, 4))


def _phone(r: random.Random) -> str:
    a = _pick(r, _AREA_CODES)
    b = 200 + int(r.random() * 790)
    if b % 100 == 11 or b == 555:  # N11 service codes and 555 are not subscriber exchanges
        b += 1
    c = int(r.random() * 10000)
    return _pick(r, (f"({a}) {b}-{c:04d}", f"{a}-{b}-{c:04d}", f"{a}.{b}.{c:04d}", f"+1 {a} {b} {c:04d}",
                     f"{a}{b}{c:04d}", f"+1-{a}-{b}-{c:04d}"))


def _email(r: random.Random, first: str, last: str) -> str:
    f, l = first.lower(), last.lower().replace("'", "")
    n = 1 + int(r.random() * 98)
    user = _pick(r, (f"{f}.{l}", f"{f}{l}{n}", f"{f[0]}{l}", f"{f}_{l}{n}", f"{f}.{l[0]}{n}", f"{l}.{f}"))
    return f"{user}@{_pick(r, _DOMAINS)}"


def _address(r: random.Random) -> str:
    city, state, z3 = _pick(r, _CITIES)
    num = 1 + int(r.random() * 9800)
    street = f"{_pick(r, _STREETS)} {_pick(r, _SUFFIXES)}"
    unit = _pick(r, ("", "", "", "", f" Apt {1 + int(r.random() * 40)}", f" Unit {chr(65 + int(r.random() * 6))}"))
    return f"{num} {street}{unit}, {city}, {state} {z3}{int(r.random() * 100):02d}"
