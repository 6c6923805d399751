"""Curating calls: replace PII in every text of the calls and apply the sensitivity rules.

    curated, restricted, report = scrub_calls(calls, config, key)   # pure; `step.scrub` wraps it

Every text of a call is scrubbed: message contents (system prompt included), response_text, tool-call
arguments, tool schemas (structured detectors only: schemas are written by developers, and NER would
mangle them), metadata, error, user_id and session_id. Work happens once per distinct text: a system
prompt repeated in a million calls is scrubbed once. Structured detection and replacement run in
polars (Rust); Python sees only distinct candidates, JSON documents and the NER model's input.
"""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np
import polars as pl

from fde_toolkit import FdeError
from fde_toolkit.logs.schema import conform
from fde_toolkit.privacy import jsonaware
from fde_toolkit.privacy.config import MESSAGE_ROLES, PiiConfig
from fde_toolkit.privacy.ner import find_entities
from fde_toolkit.privacy.pseudonym import Pseudonymizer, key_id, normalise_text
from fde_toolkit.privacy.sensitivity import decide, match_rules, summarise
from fde_toolkit.privacy.findings import Hit
from fde_toolkit.privacy.structured import build_detectors, find_structured

REPORT_VERSION = 1
SCALAR_FIELDS = ("response_text", "tools", "metadata", "error", "user_id", "session_id")
NER_FIELDS = (*(f"messages.{r}" for r in MESSAGE_ROLES), "messages.other", "response_text",
              "tool_calls.arguments", "metadata", "error")
ID_ENTITY = {"user_id": "USER_ID", "session_id": "SESSION_ID"}


@dataclass
class Curation:
    """What scrubbing produced: the curated and restricted partitions, the report, the vault mapping."""

    curated: pl.DataFrame
    restricted: pl.DataFrame | None
    report: dict[str, Any]
    vault: dict[str, str] = field(default_factory=dict)


@contextmanager
def _stage(name: str, seconds: dict[str, float]) -> Iterator[None]:
    """Time a stage; turn unexpected errors into an FdeError that cannot quote record contents."""
    t0 = time.perf_counter()
    try:
        yield
    except FdeError:
        raise
    except Exception as e:
        if os.environ.get("FDE_DEBUG"):
            raise
        raise FdeError(f"PII scrub failed while {name} ({type(e).__name__}). The error's own message is withheld "
                       "because it may quote record contents; set FDE_DEBUG=1 to see it.") from None
    finally:
        seconds[name] = round(seconds.get(name, 0.0) + time.perf_counter() - t0, 4)


# ----------------------------------------------------------------------------- texts of the calls

def collect_units(calls: pl.DataFrame) -> pl.DataFrame:
    """One row per non-empty text in the calls: `_row` (call position), `field`, `text`."""
    lf = calls.lazy().with_row_index("_row")
    role = pl.col("messages").struct.field("role")
    msg_field = pl.when(role.is_in(list(MESSAGE_ROLES))).then(pl.lit("messages.") + role) \
        .otherwise(pl.lit("messages.other"))
    parts = [
        lf.select("_row", "messages").explode("messages")
          .select("_row", msg_field.alias("field"), pl.col("messages").struct.field("content").alias("text")),
        lf.select("_row", "tool_calls").explode("tool_calls")
          .select("_row", pl.lit("tool_calls.arguments").alias("field"),
                  pl.col("tool_calls").struct.field("arguments").alias("text")),
        *[lf.select("_row", pl.lit(f).alias("field"), pl.col(f).alias("text")) for f in SCALAR_FIELDS],
    ]
    return pl.concat(parts).filter(pl.col("text").is_not_null() & (pl.col("text") != "")).collect()


# ----------------------------------------------------------------------------- scrubbing distinct strings

def _spread(hit: Hit) -> bool:
    """Whether a whole-value finding from a JSON key is also replaced inside other texts: long secrets,
    dates, SSNs and addresses, and full names (two words or more); never a lone first name."""
    if hit.entity == "PERSON":
        return " " in hit.literal.strip() and len(hit.literal) >= 5
    return len(hit.literal) >= {"SECRET": 8, "DOB": 6, "SSN": 9, "ADDRESS": 8}.get(hit.entity, 10**9)


def _replace_findings(texts: pl.Series, skip: pl.Series, found: dict[str, Hit], pseudo: Pseudonymizer
                      ) -> tuple[pl.Series, list[pl.DataFrame], set[tuple[str, str]]]:
    """Replace every finding's literal in `texts` (except where `skip`), in Rust, with Aho-Corasick.

    Leftmost-first matching over literals sorted longest first gives leftmost-longest: where two
    findings overlap, the one that starts first (or, at the same start, the longer) is replaced.
    Counting uses the same matches as replacing. Returns the new texts, hit counts per text, and
    the (entity, normalised value) pairs seen.
    """
    values: set[tuple[str, str]] = set()
    hits: list[pl.DataFrame] = []
    if not found:
        return texts, hits, values
    lits = sorted(found, key=lambda s: (-len(s), s))
    reps = [found[s].prefix + pseudo.replacement(found[s].entity, found[s].value, found[s].normalised)
            + found[s].suffix for s in lits]
    table = pl.DataFrame({"lit": lits, "entity": [found[s].entity for s in lits],
                          "detector": [found[s].detector for s in lits], "norm": [found[s].normalised for s in lits]},
                         schema={"lit": pl.String, "entity": pl.String, "detector": pl.String, "norm": pl.String})
    out = texts
    rows = pl.Series(np.flatnonzero(~skip.to_numpy()), dtype=pl.UInt32)  # the strings to look at
    matched = pl.DataFrame({"row": rows, "text": texts.gather(rows),
                            "lit": texts.gather(rows).str.extract_many(lits, leftmost=True)}) \
        .filter(pl.col("lit").list.len() > 0)
    if matched.height:
        occurrences = matched.select("text", "lit").explode("lit").join(table, on="lit")
        values |= set(occurrences.select("entity", "norm").unique().iter_rows())
        hits.append(occurrences.group_by("text", "entity", "detector").agg(n=pl.len().cast(pl.UInt32)))
        rows = matched.get_column("row")
        out = out.scatter(rows, out.gather(rows).str.replace_many(lits, reps, leftmost=True))
    return out, hits, values


def _replace_names(texts: pl.Series, current: pl.Series, eligible: pl.Series, config: PiiConfig,
                   pseudo: Pseudonymizer) -> tuple[pl.Series, list[pl.DataFrame], set[tuple[str, str]]]:
    """NER on the eligible strings (after structured replacement); spans are replaced in place."""
    idx = np.flatnonzero(eligible.to_numpy())
    if not len(idx):
        return current, [], set()
    ner_texts = current.gather(idx).to_list()
    spans = find_entities(ner_texts, config.ner_model, set(config.ner_entities), config.ner_batch_size)
    values: set[tuple[str, str]] = set()
    new_texts, rows = [], []
    for t, sp, orig in zip(ner_texts, spans, texts.gather(idx).to_list()):
        for start, end, kind in reversed(sp):
            value = t[start:end]
            norm = normalise_text(value)
            values.add((kind, norm))
            t = t[:start] + pseudo.replacement(kind, value, norm) + t[end:]
            rows.append((orig, kind))
        new_texts.append(t)
    out = current.scatter(idx, pl.Series(new_texts, dtype=pl.String))
    if not rows:
        return out, [], values
    hits = (pl.DataFrame(rows, schema={"text": pl.String, "entity": pl.String}, orient="row")
            .group_by("text", "entity").agg(n=pl.len().cast(pl.UInt32))
            .select("text", "entity", pl.lit("ner").alias("detector"), "n"))
    return out, [hits], values


def scrub_strings(pool: pl.DataFrame, keyed: dict[str, Hit], config: PiiConfig, pseudo: Pseudonymizer,
                  seconds: dict[str, float]) -> tuple[pl.Series, pl.DataFrame, set[tuple[str, str]]]:
    """Scrub distinct strings (`pool`: text, ner): whole values under telling JSON keys, then the
    structured findings, then NER. Returns the scrubbed column (same order), the hits (text, entity,
    detector, n) and the distinct (entity, normalised value) pairs replaced or kept."""
    texts = pool.get_column("text")
    with _stage("structured detection", seconds):
        found = find_structured(texts, build_detectors(config))
        for lit, hit in keyed.items():
            if _spread(hit) and lit not in found:
                found[lit] = hit
        k_old = sorted(keyed)
        k_new = [pseudo.replacement(keyed[k].entity, keyed[k].value, keyed[k].normalised) for k in k_old]
        values = {(keyed[k].entity, keyed[k].normalised) for k in k_old}
        is_keyed = texts.is_in(k_old) if k_old else pl.Series([False] * texts.len(), dtype=pl.Boolean)
        hit_frames = [pl.DataFrame({"text": k_old, "entity": [keyed[k].entity for k in k_old],
                                    "detector": [keyed[k].detector for k in k_old], "n": [1] * len(k_old)})] \
            if k_old else []

    with _stage("replacement", seconds):
        out, hits, seen = _replace_findings(texts, is_keyed, found, pseudo)
        hit_frames += hits
        values |= seen
        if k_old:
            out = pl.DataFrame({"t": texts, "o": out, "k": is_keyed}).select(
                pl.when(pl.col("k")).then(pl.col("t").replace(k_old, k_new)).otherwise(pl.col("o"))).to_series()

    with _stage("NER", seconds):
        if config.ner:
            eligible = pool.get_column("ner") & ~is_keyed & out.str.contains(r"\p{Lu}\p{Ll}")
            out, hits, seen = _replace_names(texts, out, eligible, config, pseudo)
            hit_frames += hits
            values |= seen
    schema = {"text": pl.String, "entity": pl.String, "detector": pl.String, "n": pl.UInt32}
    hits_all = pl.concat([f.cast(schema) for f in hit_frames]) if hit_frames else pl.DataFrame(schema=schema)
    return out, hits_all.group_by("text", "entity", "detector").agg(pl.col("n").sum()), values


# ----------------------------------------------------------------------------- the pure function

def _replace_texts(calls: pl.DataFrame, old: pl.Series, new: pl.Series, fields: tuple[str, ...]) -> pl.DataFrame:
    if old.len() == 0:
        return calls
    exprs = [
        pl.col("messages").list.eval(pl.element().struct.with_fields(pl.field("content").replace(old, new))),
        pl.col("tool_calls").list.eval(pl.element().struct.with_fields(pl.field("arguments").replace(old, new))),
    ]
    exprs += [pl.col(f).replace(old, new) for f in fields]
    return calls.with_columns(exprs)


def _mark(meta: str | None, categories: list[str]) -> str:
    """Metadata with `"sensitivity": [...]` added; stays valid JSON (non-object metadata is wrapped)."""
    parsed = jsonaware.loads(meta) if meta else None
    if parsed is not None and isinstance(parsed[0], dict):
        obj = parsed[0]
        prev = obj.get("sensitivity")
        prev = prev if isinstance(prev, list) else ([] if prev is None else [prev])
        obj["sensitivity"] = prev + [c for c in categories if c not in prev]
        return jsonaware.dumps(obj, parsed[1])
    if meta:
        return jsonaware.dumps({"metadata": parsed[0] if parsed is not None else meta, "sensitivity": categories}, True)
    return jsonaware.dumps({"sensitivity": categories}, True)


def _counts(frame: pl.DataFrame, by: str) -> dict[str, int]:
    if frame.height == 0:
        return {}
    g = frame.group_by(by).agg(pl.col("n").sum()).sort(["n", by], descending=[True, False])
    return {k: int(v) for k, v in g.iter_rows()}


def curate_calls(calls: pl.DataFrame, config: PiiConfig, key: bytes) -> Curation:
    """Scrub PII from `calls` and apply the sensitivity rules; see `scrub_calls`."""
    t_start = time.perf_counter()
    seconds: dict[str, float] = {}
    pseudo = Pseudonymizer(key, config)
    id_fields = tuple(config.pseudonymize_ids)

    with _stage("reading texts", seconds):
        calls = conform(calls)
        n_in = calls.height
        every_text = collect_units(calls)  # sensitivity rules look everywhere
        units = every_text.filter(~pl.col("field").is_in(list(id_fields))) if id_fields else every_text
        distinct = units.lazy().group_by("text").agg(pl.col("field").is_in(list(NER_FIELDS)).any().alias("ner")) \
            .sort("text").collect()
        json_like = distinct.get_column("text").str.contains(r"^\s*[\[{]") & \
            distinct.get_column("text").str.contains(r"[\]}]\s*$")

    with _stage("sensitivity rules", seconds):
        matches = match_rules(every_text, config.sensitivity)
        decided = decide(matches, config.sensitivity)

    with _stage("JSON parsing", seconds):
        jd = distinct.filter(json_like)
        docs = jsonaware.split_documents(jd.get_column("text").to_list(), jd.get_column("ner").to_list(),
                                         use_keys="json_key" in config.detectors)
        plain = pl.concat([distinct.filter(~json_like), jd[docs.not_json]]) if docs.not_json \
            else distinct.filter(~json_like)
        leaves = pl.DataFrame({"text": pl.Series(docs.leaves, dtype=pl.String),
                               "ner": pl.Series(np.frombuffer(bytes(docs.leaf_ner), dtype=np.uint8) > 0
                                                if docs.leaves else [], dtype=pl.Boolean)})
        pool = pl.concat([plain, leaves]).group_by("text").agg(pl.col("ner").any()).sort("text")

    scrubbed, pool_hits, values = scrub_strings(pool, docs.keyed, config, pseudo, seconds)

    with _stage("rebuilding JSON", seconds):
        changed = pool.select("text", scrubbed.alias("new")).filter(pl.col("text") != pl.col("new"))
        doc_old: list[str] = []
        doc_new: list[str] = []
        doc_leaf = pl.DataFrame({"doc": np.frombuffer(docs.doc_idx.tobytes(), dtype=np.uint32),
                                 "leaf": np.frombuffer(docs.leaf_idx.tobytes(), dtype=np.uint32)},
                                schema={"doc": pl.UInt32, "leaf": pl.UInt32})
        leaf_text = pl.DataFrame({"leaf": pl.Series(range(len(docs.leaves)), dtype=pl.UInt32),
                                  "text": pl.Series(docs.leaves, dtype=pl.String)})
        if changed.height and docs.texts:
            leaf_map = dict(zip(changed.get_column("text").to_list(), changed.get_column("new").to_list()))
            touched = leaf_text.filter(pl.col("text").is_in(changed.get_column("text").implode()))
            doc_ids = doc_leaf.join(touched.select("leaf"), on="leaf", how="semi").get_column("doc").unique().sort()
            for d in doc_ids.to_list():
                new = jsonaware.rebuild(docs.texts[d], leaf_map)
                if new is not None:
                    doc_old.append(docs.texts[d])
                    doc_new.append(new)
        mapping = pl.concat([changed.rename({"text": "old"}),
                             pl.DataFrame({"old": doc_old, "new": doc_new},
                                          schema={"old": pl.String, "new": pl.String})]
                            ).unique("old", keep="first", maintain_order=True)
        old, new = mapping.get_column("old"), mapping.get_column("new")

    with _stage("writing curated texts", seconds):
        out = _replace_texts(calls, old, new, tuple(f for f in SCALAR_FIELDS if f not in id_fields))
        id_hits = []
        for f in id_fields:
            distinct_ids = calls.get_column(f).drop_nulls().unique().sort().to_list()
            entity = ID_ENTITY[f]
            reps = [pseudo.replacement(entity, v, v) for v in distinct_ids]
            values |= {(entity, v) for v in distinct_ids}
            if distinct_ids:
                out = out.with_columns(pl.col(f).replace(distinct_ids, reps))
                id_hits.append(calls.lazy().with_row_index("_row").filter(pl.col(f).is_not_null())
                               .select("_row", pl.lit(f).alias("field"), pl.lit(entity).alias("entity"),
                                       pl.lit("pseudonymize_ids").alias("detector"), pl.lit(1, pl.UInt32).alias("n"))
                               .collect())

    with _stage("counting", seconds):
        doc_frame = pl.DataFrame({"doc": pl.Series(range(len(docs.texts)), dtype=pl.UInt32),
                                  "unit": pl.Series(docs.texts, dtype=pl.String)})
        doc_hits = (doc_leaf.join(leaf_text, on="leaf").join(pool_hits, on="text")
                    .group_by("doc", "entity", "detector").agg(pl.col("n").sum())
                    .join(doc_frame, on="doc").select(pl.col("unit").alias("text"), "entity", "detector", "n"))
        unit_hits = pl.concat([pool_hits.join(plain.select("text"), on="text", how="semi"), doc_hits])
        occ = units.join(unit_hits, on="text").select("_row", "field", "entity", "detector", "n")
        occ_schema = {"_row": pl.UInt32, "field": pl.String, "entity": pl.String, "detector": pl.String,
                      "n": pl.UInt32}
        occ = pl.concat([f.cast(occ_schema) for f in [occ, *id_hits]])
        by_field: dict[str, dict[str, int]] = {}
        if occ.height:
            for (f,), grp in occ.group_by("field"):
                by_field[f] = _counts(grp, "entity")
        by_type = _counts(occ, "entity")
        entities = {
            "total": int(occ.get_column("n").sum()) if occ.height else 0,
            "records_with_pii": int(occ.get_column("_row").n_unique()) if occ.height else 0,
            "by_type": by_type,
            "by_field": dict(sorted(by_field.items())),
            "by_detector": _counts(occ, "detector"),
            "distinct_values_by_type": dict(sorted(pl.DataFrame(sorted(values), schema=["entity", "v"], orient="row")
                                                   .group_by("entity").len().iter_rows()) if values else []),
            "operators": {e: config.operator(e) for e in sorted(by_type)},
        }

    with _stage("sensitivity actions", seconds):
        marked = decided.filter(pl.col("action").is_in(["flag", "restrict"]))
        if marked.height:
            rows = marked.get_column("_row")
            metas = out.get_column("metadata").gather(rows).to_list()
            new_meta = [_mark(m, c) for m, c in zip(metas, marked.get_column("categories").to_list())]
            out = out.with_columns(out.get_column("metadata").scatter(rows, pl.Series(new_meta, dtype=pl.String)))
        action = pl.Series([None] * n_in, dtype=pl.String)
        if decided.height:
            action = action.scatter(decided.get_column("_row"), decided.get_column("action"))
        curated = out.filter(action.is_null() | (action == "flag"))
        restricted = out.filter(action == "restrict") if config.uses_restrict() else None
        n_dropped = int((action == "drop").sum())

    seconds["total"] = round(time.perf_counter() - t_start, 4)
    n_restricted = restricted.height if restricted is not None else 0
    report = {
        "version": REPORT_VERSION,
        "records": {"in": n_in, "curated": curated.height, "restricted": n_restricted, "dropped": n_dropped},
        "entities": entities,
        "sensitivity": summarise(matches, decided, config.sensitivity),
        "texts": {
            "occurrences": units.height,
            "distinct": distinct.height,
            "json_documents": len(docs.texts),
            "json_documents_rewritten": len(doc_old),
            "json_looking_but_invalid": len(docs.not_json),
            "strings_scanned": pool.height,
            "strings_changed": changed.height,
        },
        "settings": {
            "detectors": list(config.detectors),
            "custom_patterns": [p.name for p in config.patterns],
            "phone_regions": list(config.phone_regions),
            "ner": config.ner,
            "ner_model": config.ner_model if config.ner else None,
            "ner_entities": list(config.ner_entities) if config.ner else [],
            "default_operator": config.default_operator,
            "operators": dict(sorted(config.operators.items())),
            "pseudonymize_ids": list(id_fields),
            "vault": config.vault,
            "key_id": key_id(key),
        },
        "seconds": seconds,
        "records_per_second": round(n_in / seconds["total"], 1) if seconds["total"] > 0 else None,
    }
    return Curation(curated=curated, restricted=restricted, report=report, vault=dict(sorted(pseudo.vault.items())))


def scrub_calls(calls: pl.DataFrame, config: PiiConfig, key: bytes
                ) -> tuple[pl.DataFrame, pl.DataFrame | None, dict[str, Any]]:
    """Scrub PII from canonical calls and apply the sensitivity rules.

    Returns (curated, restricted, report): `curated` keeps the canonical schema with PII replaced and
    dropped records removed; `restricted` holds the records a `restrict` rule moved apart (scrubbed
    too), or None when no rule restricts; `report` has counts only, never values.
    """
    c = curate_calls(calls, config, key)
    return c.curated, c.restricted, c.report
