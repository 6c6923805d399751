"""Ground truth: each logged record's seeded task and label, regenerated from the plan (no text rendered)."""

from __future__ import annotations

import numpy as np
import polars as pl

from fde_toolkit.synth.catalog import _CH_MOBILE, _ST_OK, MODELS, START, TASK_TYPES
from fde_toolkit.synth.plan import _plan
from fde_toolkit.synth.records import _file_for, _label_name


def demo_ground_truth(n_calls: int = 20_000, days: int = 30, seed: int = 7, bad_records: bool = True,
                      otel_share: float = 0.1) -> pl.DataFrame:
    """Each logged record's seeded task, regenerated from the arguments (no text is rendered).

    One row per distinct record written (a record logged twice is one row, defect "logged_twice";
    the 4 invalid lines are not calls). Columns: record (position in time order), call_id (the
    response id for gateway records, "traceId:spanId" for OTel spans, null for gateway errors,
    which have no id: join those on file and line), timestamp, file, line (1-based line in the
    gateway file; null for OTel spans), trace_id and span_id (OTel), response_id (null for errors),
    session_id, step, attempt, task_type, label (triage label / tool name / KB entry id / incident
    type / reasoning kind), model, status ("ok" or "error"), error_code, defect.
    """
    p = _plan(n_calls, days, seed, bad_records, otel_share)
    R = p.ts_us.size
    mobile = p.s_channel[p.sess] == _CH_MOBILE
    day = START.date().toordinal() + (p.ts_us - p.start_us) // 86_400_000_000
    names = {(int(d), bool(m)): _file_for(int(d), bool(m)) for d, m in set(zip(day.tolist(), mobile.tolist()))}
    # extra gateway lines: invalid lines are written just before their record, a duplicate just after
    before = np.zeros(R, dtype=np.int64)
    after = np.zeros(R, dtype=np.int64)
    defect = [None] * R
    for pos, defects in p.defects.items():
        before[pos] += sum(d in ("truncated", "nul") for d in defects)
        after[pos] += "logged_twice" in defects
        for d in defects:
            if d in ("negative_latency", "logged_twice"):
                defect[pos] = d
    label_of = {t * 1000 + l: _label_name(t, l) for t, l in set(zip(p.task.tolist(), p.label.tolist()))}
    sid = {s: f"sess_{int(p.s_sid[s]) & 0xFFFFFFFFFFFF:012x}" for s in np.unique(p.sess).tolist()}
    mask = 2**64 - 1
    span_id = [f"{x & mask:016x}" if m else None for x, m in zip(p.span.tolist(), mobile.tolist())]
    tr = p.s_trace[p.sess]
    trace_id = [f"{a & mask:016x}{b & mask:016x}" if m else None
                for a, b, m in zip(tr[:, 0].tolist(), tr[:, 1].tolist(), mobile.tolist())]
    df = pl.DataFrame({
        "record": np.arange(R), "ts": p.ts_us, "mobile": mobile, "before": before, "after": after,
        "file": [names[(d, m)] for d, m in zip(day.tolist(), mobile.tolist())],
        "sess": p.sess, "step": p.step, "attempt": p.attempt, "task": p.task.astype(np.int64),
        "label": p.label.astype(np.int64), "model": p.model, "status": p.status, "rid": p.rid.astype(str),
    })
    line = (pl.int_range(1, pl.len() + 1).over("file") + pl.col("before").cum_sum().over("file")
            + pl.col("after").cum_sum().over("file") - pl.col("after"))
    return df.with_columns(
        pl.when(pl.col("mobile")).then(None).otherwise(line).cast(pl.Int64).alias("line"),
        pl.Series("span_id", span_id, dtype=pl.String),
        pl.Series("trace_id", trace_id, dtype=pl.String),
        pl.from_epoch("ts", time_unit="us").dt.replace_time_zone("UTC").alias("timestamp"),
        pl.when(pl.col("status") == _ST_OK).then(pl.lit("chatcmpl-") + pl.col("rid")).alias("response_id"),
        pl.col("sess").replace_strict(sid, return_dtype=pl.String).alias("session_id"),
        pl.col("task").replace_strict(dict(enumerate(TASK_TYPES)), return_dtype=pl.String).alias("task_type"),
        (pl.col("task") * 1000 + pl.col("label")).replace_strict(label_of, return_dtype=pl.String).alias("label"),
        pl.col("model").replace_strict(dict(enumerate(MODELS)), return_dtype=pl.String).alias("model"),
        pl.when(pl.col("status") == _ST_OK).then(pl.lit("ok")).otherwise(pl.lit("error")).alias("status"),
        pl.col("status").replace_strict({0: None, 1: "rate_limit_exceeded", 2: "timeout", 3: "server_error"},
                                        return_dtype=pl.String).alias("error_code"),
        pl.Series("defect", defect, dtype=pl.String),
    ).with_columns(
        pl.when(pl.col("mobile")).then(pl.col("trace_id") + ":" + pl.col("span_id"))
        .otherwise(pl.col("response_id")).alias("call_id"),
    ).select("record", "call_id", "timestamp", "file", "line", "trace_id", "span_id", "response_id", "session_id",
             "step", "attempt", "task_type", "label", "model", "status", "error_code", "defect")
