"""Sensitivity rules: named categories of records (health, legal hold) found by keywords or patterns.

Rules look at the original text, before any replacement, with one case-insensitive regex per rule
over the distinct (field, text) pairs. Each record gets the strongest action of the rules it
matches: drop > restrict > flag.
"""

from __future__ import annotations

import polars as pl

from fde_toolkit.privacy.config import SensitivityRule

ACTION_RANK = {"flag": 1, "restrict": 2, "drop": 3}


def keyword_regex(keywords: list[str]) -> str:
    """Case-insensitive whole-word alternation; spaces inside a keyword match any run of whitespace."""
    alts = "|".join(pl.escape_regex(k).replace(" ", r"\s+") for k in sorted(set(keywords), key=len, reverse=True))
    return r"(?i)(?:^|[^\w])(?:" + alts + r")(?:$|[^\w])"


def match_rules(units: pl.DataFrame, rules: list[SensitivityRule]) -> pl.DataFrame:
    """Per matching record (`_row`): `kw_i` / `pat_i` booleans for rule i (keyword hit, pattern hit).

    `units` holds one row per text occurrence: `_row`, `field`, `text`. Records that match no rule
    are absent from the result.
    """
    cols = [f"{kind}_{i}" for i in range(len(rules)) for kind in ("kw", "pat")]
    schema = {"_row": pl.UInt32, **{c: pl.Boolean for c in cols}}
    if not rules or units.height == 0:
        return pl.DataFrame(schema=schema)
    exprs = []
    for i, rule in enumerate(rules):
        in_fields = pl.col("field").is_in(list(rule.searched_fields()))
        kw = pl.col("text").str.contains(keyword_regex(rule.keywords)) if rule.keywords else pl.lit(False)
        pat = pl.any_horizontal([pl.col("text").str.contains(p) for p in rule.patterns]) if rule.patterns \
            else pl.lit(False)
        exprs += [(in_fields & kw).alias(f"kw_{i}"), (in_fields & pat).alias(f"pat_{i}")]
    distinct = units.lazy().select("field", "text").unique().with_columns(exprs) \
        .filter(pl.any_horizontal(cols)).collect()
    if distinct.height == 0:
        return pl.DataFrame(schema=schema)
    return (units.lazy().join(distinct.lazy(), on=["field", "text"], how="inner")
            .group_by("_row").agg([pl.col(c).any() for c in cols])
            .sort("_row").collect().cast(schema))


def decide(matches: pl.DataFrame, rules: list[SensitivityRule]) -> pl.DataFrame:
    """Per matching record: `categories` (rule names, config order) and the strongest `action`."""
    if matches.height == 0:
        return pl.DataFrame(schema={"_row": pl.UInt32, "categories": pl.List(pl.String), "action": pl.String})
    hit = [pl.col(f"kw_{i}") | pl.col(f"pat_{i}") for i in range(len(rules))]
    cats = pl.concat_list([pl.when(h).then(pl.lit(r.name)).otherwise(None) for h, r in zip(hit, rules)]
                          ).list.drop_nulls()
    rank = pl.max_horizontal([pl.when(h).then(pl.lit(ACTION_RANK[r.action])).otherwise(0)
                              for h, r in zip(hit, rules)])
    by_rank = {v: k for k, v in ACTION_RANK.items()}
    return matches.select(
        "_row", cats.alias("categories"),
        rank.replace_strict(by_rank, return_dtype=pl.String).alias("action"))


def summarise(matches: pl.DataFrame, decided: pl.DataFrame, rules: list[SensitivityRule]) -> dict:
    """Counts for the report: per rule (matched, by keyword, by pattern, action applied) and totals."""
    out_rules = []
    for i, r in enumerate(rules):
        if matches.height:
            kw, pat = matches.get_column(f"kw_{i}"), matches.get_column(f"pat_{i}")
            matched = int((kw | pat).sum())
            applied = int(((kw | pat) & (decided.get_column("action") == r.action)).sum())
            n_kw, n_pat = int(kw.sum()), int(pat.sum())
        else:
            matched = applied = n_kw = n_pat = 0
        out_rules.append({"name": r.name, "action": r.action, "records_matched": matched,
                          "matched_by_keywords": n_kw, "matched_by_patterns": n_pat,
                          "records_actioned": applied})
    actions = decided.get_column("action") if decided.height else pl.Series([], dtype=pl.String)
    return {
        "rules": out_rules,
        "records_dropped": int((actions == "drop").sum()),
        "records_restricted": int((actions == "restrict").sum()),
        "records_flagged": int((actions == "flag").sum()),
    }
