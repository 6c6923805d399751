"""How every report, slide and terminal summary writes a number: counts, money, shares and durations.

    count(12345)              '12,345'          count(1_240_000, compact=True)   '1.2M'
    money(39.034)             '$39.03'          money(1_240_000, compact=True)   '$1.2M'
    money(0.000123)           '$0.000123'       money(-18_000, compact=True)     '-$18k'
    share(0.1234)             '12.3%'           share(0.8, digits=0)             '80%' (slide headlines)
    duration_ms(850)          '850 ms'          duration_ms(1250)                '1.25 s'
    months(7.25)              '7.2 months'      in_unit(0.5, "share")            '50.0%'
    interval(0.798, 0.993)    '[79.8%, 99.3%]'  interval(55.2, 71.04, "score")   '[55.2, 71.0]'
    p_value(0.0386)           'p=0.039'         p_value(0.0002)                  'p<0.001'

One function per kind of number, so the same figure reads the same in the scoping report, the
handover report, the slides and the CLI. Missing values read as NONE ('–'), except money, which
reads 'unknown' (a cost that is not known is not zero).
"""

from __future__ import annotations

NONE = "–"


def count(x: float | None, compact: bool = False) -> str:
    """A whole number with thousands separators; `compact` writes millions as '1.2M'."""
    if x is None:
        return NONE
    if compact and abs(x) >= 1e6:
        return f"{x / 1e6:,.1f}M"
    return f"{round(x):,}"


def money(x: float | None, compact: bool = False) -> str:
    """USD: '$39.03', '$4,560', '$1.24M'; small amounts keep three significant digits ('$0.000123').
    `compact` (slides) writes '$45k' and '$1.2M'."""
    if x is None:
        return "unknown"
    sign, a = ("-" if x < 0 else ""), abs(x)
    if a >= 1e6:
        return f"{sign}${a / 1e6:,.{1 if compact else 2}f}M"
    if compact and a >= 1e4:
        return f"{sign}${a / 1e3:,.0f}k"
    if a >= 1000 or (compact and a >= 100):
        return f"{sign}${a:,.0f}"
    if a >= 0.01 or a == 0:
        return f"{sign}${a:,.2f}"
    return f"{sign}${a:.3g}" if "e" not in f"{a:.3g}" else f"{sign}${a:.6f}"


def share(x: float | None, digits: int = 1) -> str:
    """A share (0-1) as a percentage: '12.3%'."""
    return NONE if x is None else f"{x:.{digits}%}"


def interval(lo: float | None, hi: float | None, unit: str = "share", digits: int = 1) -> str:
    """A 95% interval after its figure: '[79.8%, 99.3%]' for a share, '[55.2, 71.0]' for a 0-100 `score`;
    '' when unknown, so `f"{share(x)} {interval(lo, hi)}"` reads well either way."""
    if lo is None or hi is None:
        return ""
    if unit == "share":
        return f"[{share(lo, digits)}, {share(hi, digits)}]"
    return f"[{lo:,.{digits}f}, {hi:,.{digits}f}]"


def p_value(p: float | None) -> str:
    """A test's p-value, two significant digits: 'p=0.039', 'p=0.25', 'p=1'; 'p<0.001' below that."""
    if p is None:
        return "p=" + NONE
    return "p<0.001" if p < 0.001 else f"p={p:.2g}"


def duration_ms(ms: float | None) -> str:
    """A latency: '850 ms' below a second, '1.25 s' above."""
    if ms is None:
        return NONE
    return f"{ms / 1000:,.2f} s" if ms >= 1000 else f"{ms:,.0f} ms"


def months(x: float | None, never: str = "not reached") -> str:
    """A payback time: '7.2 months'; `never` when there is none."""
    if x is None:
        return never
    return f"{x:,.1f} months"


def tokens(n: int | None) -> str:
    """A token budget: '128k', '1M'; '∞' for no limit."""
    if n is None:
        return "∞"
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


_TIME_UNITS = {"minutes": "min", "seconds": "s", "hours": "h", "days": "days"}


def in_unit(value: float | None, unit: str) -> str:
    """A number in the unit the ROI names it with (share, usd, usd_per_year, ms, months, minutes, ...)."""
    if value is None:
        return months(None, "not within 10 years") if unit == "months" else NONE
    if unit == "share":
        return share(value)
    if unit in ("usd", "usd_per_year"):
        return money(value) + ("/yr" if unit == "usd_per_year" else "")
    if unit == "usd_per_hour":
        return f"${value:,.2f}/h"
    if unit == "ms":
        return duration_ms(value)
    if unit == "months":
        return months(value)
    if unit == "percent":
        return f"{value:,.0f}%"
    if unit == "factor":
        return f"{value:,.2f}×"
    if unit == "minutes" and abs(value) < 1:
        return f"{value * 60:,.1f} s"
    if unit == "seconds" and abs(value) < 10:
        return f"{value:,.2f} s"
    if unit in _TIME_UNITS:
        short = _TIME_UNITS[unit]
        return f"{value:,.1f} {short}" if abs(value) < 100 else f"{value:,.0f} {short}"
    if unit in ("calls", "cases", "count"):
        return f"{value:,.0f}"
    if unit == "per_s":
        return f"{value:,.2f}/s"
    if unit == "rate_per_year":
        return f"{value:.1%}/yr"
    return f"{value:,.4g}"
