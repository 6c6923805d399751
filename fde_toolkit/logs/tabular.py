"""Reader for CSV and Parquet exports, through a column mapping in engagement.yaml.

    sources:
      - glob: "exports/*.csv"
        mapping: {call_id: request_id, timestamp: created_at, model: model_name, prompt: prompt_text}

Mapping keys are canonical fields (every scalar one), plus `prompt` (one user message),
`system_prompt` (a system message before it) and `messages` (a JSON column, or a Parquet list of
{role, content}). Unmapped columns are kept in metadata. Work is polars expressions per batch.
Line numbers: a CSV's header is line 1, so data row n is line n + 1 (exact unless quoted fields
hold newlines); a Parquet row n is line n.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Callable

import orjson
import polars as pl

from fde_toolkit import FdeError
from fde_toolkit.engagement import SourceConfig
from fde_toolkit.logs import jsonl
from fde_toolkit.logs.jsonl import (RAW_SCHEMA, FileRefused, RecordError, list_column, epoch_expr,
                                    messages_of, timestamp_expr)
from fde_toolkit.logs.schema import MESSAGE

TEXT_FIELDS = ("call_id", "model", "provider", "response_text", "status", "error", "session_id", "user_id",
               "workload_id")
JSON_FIELDS = ("tools", "metadata")
INT_FIELDS = ("input_tokens", "output_tokens")
FLOAT_FIELDS = ("latency_ms", "cost_usd")
MAPPING_KEYS = ("timestamp", *TEXT_FIELDS, *JSON_FIELDS, *INT_FIELDS, *FLOAT_FIELDS,
                "prompt", "system_prompt", "messages")
_MESSAGES = pl.List(MESSAGE)


def check_mapping(source: SourceConfig, index: int) -> None:
    """Refuse mapping keys that are not canonical fields (a typo would silently drop a column)."""
    for key in source.mapping:
        if key not in MAPPING_KEYS:
            raise FdeError(
                f"engagement.yaml: sources[{index}].mapping.{key} is not a field that can be mapped. "
                f"Use one of: {', '.join(MAPPING_KEYS)}.")


def _key(index: int | None, field: str) -> str:
    return f"sources[{index}].mapping.{field}" if index is not None else f"sources[N].mapping.{field}"


def _require_mapping(fmt: str, source: SourceConfig | None, index: int | None) -> dict[str, str]:
    mapping = source.mapping if source is not None else {}
    if not mapping:
        raise FileRefused(
            "missing column mapping",
            f"a {fmt} file needs a column mapping: add a source whose glob matches this file to engagement.yaml "
            f"with `mapping:` (canonical field -> your column), at least {_key(index, 'timestamp')}, "
            f"{_key(index, 'model')} and {_key(index, 'prompt')} (or messages); "
            "see the sources comments in engagement.yaml as `fde new` writes it")
    for need in ("timestamp", "model"):
        if need not in mapping:
            raise FileRefused("missing column mapping",
                              f"the mapping has no {need}: set {_key(index, need)} in engagement.yaml")
    if "prompt" not in mapping and "messages" not in mapping:
        raise FileRefused("missing column mapping",
                          f"the mapping has neither prompt nor messages: set {_key(index, 'prompt')} "
                          f"(or {_key(index, 'messages')}) in engagement.yaml")
    return mapping


def _json_of(col: pl.Expr) -> pl.Expr:
    """A nested column as JSON text."""
    return pl.struct(col.alias("v")).struct.json_encode().str.strip_prefix('{"v":').str.strip_suffix("}")


def _text(c: str, dt: pl.DataType) -> pl.Expr:
    col = pl.col(c)
    if dt == pl.String:
        return col
    return _json_of(col) if dt.is_nested() else col.cast(pl.String)


def _number(c: str, dt: pl.DataType, whole: bool) -> pl.Expr:
    col = pl.col(c)
    if dt.is_integer():
        return col.cast(pl.Int64 if whole else pl.Float64, strict=False)
    if dt.is_float():
        f = col.cast(pl.Float64)
    elif dt == pl.String:
        f = col.str.strip_chars().cast(pl.Float64, strict=False)
    elif dt == pl.Boolean or dt.is_nested():
        return pl.lit(None, dtype=pl.Int64 if whole else pl.Float64)
    else:
        f = col.cast(pl.Float64, strict=False)
    if not whole:
        return f
    return pl.when(f == f.floor()).then(f).otherwise(None).cast(pl.Int64, strict=False)


def _timestamp(c: str, dt: pl.DataType, source: SourceConfig) -> pl.Expr:
    col = pl.col(c)
    unit = source.timestamp_unit if "timestamp_unit" in source.model_fields_set else None
    if isinstance(dt, pl.Datetime):
        col = col.dt.replace_time_zone("UTC") if dt.time_zone is None else col.dt.convert_time_zone("UTC")
        return col.cast(pl.Datetime("us", "UTC"))
    if dt == pl.Date:
        return col.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if dt.is_numeric():
        return epoch_expr(col, unit)
    if dt == pl.String:
        if source.timestamp_format:
            return col.str.to_datetime(source.timestamp_format, time_unit="us", time_zone="UTC", strict=False)
        return timestamp_expr(col, pl.lit(None, dtype=pl.Float64), unit)
    return pl.lit(None, dtype=pl.Datetime("us", "UTC"))


def _messages(mapping: dict[str, str], schema: pl.Schema) -> pl.Expr:
    """Messages from a list column, a JSON column (decoded per batch), or prompt/system_prompt."""
    if "messages" in mapping:
        c = mapping["messages"]
        dt = schema[c]
        if dt == pl.String:
            return pl.col(c).alias("_messages_json")
        inner = dt.inner if isinstance(dt, pl.List) else None
        if not isinstance(inner, pl.Struct) or not {"role", "content"} <= {f.name for f in inner.fields}:
            raise FileRefused("wrong type", f"column {c} (messages) must be JSON text or a list of {{role, content}}")
        el = pl.element().struct
        return pl.col(c).list.eval(pl.struct(role=el.field("role").cast(pl.String),
                                             content=_text_el(el.field("content"), inner))).alias("messages")
    user = pl.struct(role=pl.lit("user"), content=_text(mapping["prompt"], schema[mapping["prompt"]]))
    msgs = pl.concat_list([user])
    if "system_prompt" in mapping:
        system = _text(mapping["system_prompt"], schema[mapping["system_prompt"]])
        sys_msg = pl.struct(role=pl.lit("system"), content=system)
        msgs = pl.when(system.is_not_null()).then(pl.concat_list([sys_msg, user])).otherwise(msgs)
    return pl.when(pl.col(mapping["prompt"]).is_not_null()).then(msgs).otherwise(None).alias("messages")


def _text_el(e: pl.Expr, inner: pl.Struct) -> pl.Expr:
    dt = next(f.dtype for f in inner.fields if f.name == "content")
    return _json_of(e) if dt.is_nested() else e.cast(pl.String)


def _select(mapping: dict[str, str], schema: pl.Schema, source: SourceConfig, rel: str, line_offset: int,
            index: int | None) -> list[pl.Expr]:
    """Expressions turning the customer's columns into the RAW_SCHEMA columns (messages JSON aside)."""
    missing = [(k, c) for k, c in mapping.items() if c not in schema]
    if missing:
        key, col = missing[0]
        cols = ", ".join([c for c in schema if c != "__fde_row"][:20])
        raise FileRefused("missing column",
                          f"column {col!r} (named by {_key(index, key)}) is not in the file; its columns are: {cols}. "
                          f"Set {_key(index, key)} in engagement.yaml to one of them")
    line = (pl.col("__fde_row").cast(pl.Int64) + line_offset).alias("_line")
    exprs: list[pl.Expr] = [line]
    errors: list[pl.Expr] = []
    for f in TEXT_FIELDS + JSON_FIELDS:
        if f in mapping:
            exprs.append(_text(mapping[f], schema[mapping[f]]).alias(f))
    if "call_id" not in mapping:
        exprs.append(pl.concat_str([pl.lit(f"{rel}:"), line.cast(pl.String)]).alias("call_id"))
    for fields, whole, what in ((INT_FIELDS, True, "a whole number"), (FLOAT_FIELDS, False, "a number")):
        for f in fields:
            if f in mapping:
                c = mapping[f]
                v = _number(c, schema[c], whole)
                exprs.append(v.alias(f))
                errors.append(pl.when(pl.col(c).is_not_null() & v.is_null())
                              .then(pl.lit(f"{f} (column {c}) is not {what}")))
    ts_col = mapping["timestamp"]
    exprs += [_timestamp(ts_col, schema[ts_col], source).alias("timestamp"),
              pl.col(ts_col).is_not_null().alias("_ts_given"), _messages(mapping, schema)]
    if "metadata" not in mapping:
        used = set(mapping.values())
        rest = [c for c in schema if c not in used and c != "__fde_row"]
        exprs.append(pl.struct(rest).struct.json_encode().alias("metadata") if rest
                     else pl.lit(None, dtype=pl.String).alias("metadata"))
    exprs.append((pl.coalesce(errors) if errors else pl.lit(None, dtype=pl.String)).alias("_type_error"))
    return exprs


def _decode_messages(batch: pl.DataFrame, column: str) -> pl.DataFrame:
    """Decode a JSON messages column: vectorised, or row by row to flag the rows that are not JSON."""
    raw = batch["_messages_json"]
    try:
        decoded = raw.str.json_decode(_MESSAGES)
        no_role = decoded.list.eval(pl.element().struct.field("role").is_null()).list.any()
        problem = pl.when(no_role).then(pl.lit(f"messages (column {column}) has a message without a role"))
        return batch.with_columns(messages=decoded).with_columns(
            _type_error=pl.coalesce(pl.col("_type_error"), problem)).drop("_messages_json")
    except pl.exceptions.PolarsError:
        pass
    roles, contents, errors = [], [], []
    for text in raw.to_list():
        r = c = err = None
        if text is not None:
            try:
                r, c = messages_of(orjson.loads(text), f"messages (column {column})")
            except orjson.JSONDecodeError:
                err = f"messages (column {column}) is not valid JSON"
            except RecordError as e:
                err = e.detail
        roles.append(r)
        contents.append(c)
        errors.append(err)
    return batch.with_columns(
        messages=list_column(tuple(roles), tuple(contents), ("role", "content")),
        _type_error=pl.coalesce(pl.col("_type_error"), pl.Series(errors, dtype=pl.String)),
    ).drop("_messages_json")


def _plain_copy(path: Path, workdir: Path) -> Path:
    """A gzip-compressed export decompressed into the ingest's scratch folder."""
    if not jsonl.is_gzip(path):
        return path
    out = workdir / f"gunzip-{path.name}"
    try:
        with gzip.open(path, "rb") as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
    except (OSError, EOFError):
        raise FileRefused("unreadable file", "the gzip data is corrupt or truncated; copy the file again") from None
    return out


def read_tabular(path: Path, fmt: str, rel: str, file_index: int, source: SourceConfig | None,
                 source_index: int | None, emit: Callable[[pl.DataFrame], None], workdir: Path,
                 separator: str = ",") -> int:
    """Stream a CSV or Parquet file to `emit` as RAW_SCHEMA frames; returns the rows read.

    Raises FileRefused (nothing, or nothing more, can be read) naming what to set in engagement.yaml.
    """
    mapping = _require_mapping(fmt, source, source_index)
    plain = _plain_copy(path, workdir)
    try:
        if fmt == "csv":
            lf = pl.scan_csv(plain, infer_schema=False, separator=separator, row_index_name="__fde_row")
            line_offset = 2
        else:
            lf = pl.scan_parquet(plain).with_row_index("__fde_row")
            line_offset = 1
        schema = lf.collect_schema()
    except (pl.exceptions.PolarsError, OSError) as e:
        raise FileRefused("unreadable file", f"could not read it as {fmt} ({type(e).__name__}); "
                                             f"check the export, or set the right format: in engagement.yaml") from None
    exprs = _select(mapping, schema, source or SourceConfig(), rel, line_offset, source_index)
    read = 0
    try:
        for batch in lf.select(exprs).collect_batches(chunk_size=jsonl.CHUNK_ROWS):
            if "_messages_json" in batch.columns:
                batch = _decode_messages(batch, mapping["messages"])
            batch = batch.with_columns(_file=pl.lit(file_index, dtype=pl.Int32))
            missing = [pl.lit(None, dtype=t).alias(c) for c, t in RAW_SCHEMA.items() if c not in batch.columns]
            emit(batch.with_columns(missing).select([pl.col(c).cast(t) for c, t in RAW_SCHEMA.items()]))
            read += batch.height
    except (pl.exceptions.PolarsError, OSError) as e:
        hint = "re-export it as UTF-8" if "utf-8" in str(e).lower() else "check the export (quoting, field counts)"
        raise FileRefused("unreadable file", f"{fmt} parsing failed after {read} rows ({type(e).__name__}); "
                                             f"the rows after it were not read; {hint}") from None
    if read == 0:
        raise FileRefused("empty file", f"the {fmt} file has no data rows; remove it or export the rows")
    return read
