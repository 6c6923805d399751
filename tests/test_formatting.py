"""One way to write each kind of number, in reports, slides and the CLI alike."""

from __future__ import annotations

from fde_toolkit import formatting as num


def test_money_reads_the_same_everywhere_and_never_zeroes_the_unknown():
    assert [num.money(x) for x in (None, 0, 39.034, 456.789, 4560.4, 1_240_000, -18_000, 0.000123)] == \
        ["unknown", "$0.00", "$39.03", "$456.79", "$4,560", "$1.24M", "-$18,000", "$0.000123"]
    assert [num.money(x, compact=True) for x in (45_300, 1_240_000, -18_000, 456.7)] == \
        ["$45k", "$1.2M", "-$18k", "$457"]


def test_counts_shares_durations_and_units():
    assert (num.count(None), num.count(12345), num.count(1_240_000, compact=True)) == ("–", "12,345", "1.2M")
    assert (num.share(None), num.share(0.1234), num.share(0.8, 0)) == ("–", "12.3%", "80%")
    assert (num.duration_ms(850), num.duration_ms(1250), num.duration_ms(None)) == ("850 ms", "1.25 s", "–")
    assert [num.tokens(n) for n in (None, 128_000, 2_000_000, 1234)] == ["∞", "128k", "2M", "1234"]
    assert num.months(7.25) == "7.2 months" and num.months(None) == "not reached"
    # in_unit delegates to the same functions, so a share reads alike in a table and in a sentence
    assert num.in_unit(0.1234, "share") == num.share(0.1234)
    assert num.in_unit(1500.0, "usd_per_year") == "$1,500/yr" and num.in_unit(None, "months") == "not within 10 years"
    assert num.in_unit(0.5, "minutes") == "30.0 s" and num.in_unit(250.0, "ms") == "250 ms"


def test_intervals_and_p_values():
    assert num.interval(0.798, 0.993) == "[79.8%, 99.3%]" and num.interval(0.798, 0.993, digits=0) == "[80%, 99%]"
    assert num.interval(55.2, 71.04, "score") == "[55.2, 71.0]" and num.interval(None, 0.9) == ""
    assert [num.p_value(p) for p in (0.03857, 0.25, 1.0, 0.0002, None)] == \
        ["p=0.039", "p=0.25", "p=1", "p<0.001", "p=–"]
