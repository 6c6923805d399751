"""Reading raw log files: gzip by magic bytes, line blocks, and the helpers every reader shares.

Readers turn one parsed record into a *row*: a tuple in `ROW_FIELDS` order, built by the
coercion helpers below, which raise `RecordError` for a value of the wrong type. Rows are
collected per chunk and become a polars frame in one go (`rows_to_frame`), so per-record Python
work stays a tight extraction function.
"""

from __future__ import annotations

import zlib
from itertools import accumulate, chain
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import orjson
import polars as pl
import pyarrow as pa

from fde_toolkit.logs.schema import CALL_SCHEMA

GZIP_MAGIC = b"\x1f\x8b"
UTF8_BOM = b"\xef\xbb\xbf"
# Decompressed bytes read at a time, and records validated and written at a time. Memory per chunk
# is bounded by both; tests shrink them to prove streaming.
CHUNK_BYTES = 16 << 20
CHUNK_ROWS = 100_000
_RAW_READ = 1 << 20

# What a reader returns per record, in this order. messages and tool_calls are two parallel lists
# each (roles/contents, names/arguments); a timestamp is either text or an epoch number.
ROW_FIELDS = (
    "call_id", "ts_text", "ts_num", "model", "provider", "msg_roles", "msg_contents", "tools",
    "response_text", "tc_names", "tc_args", "input_tokens", "output_tokens", "latency_ms",
    "cost_usd", "status", "error", "session_id", "user_id", "workload_id", "metadata",
)

# A chunk's frame before validation: the canonical columns (timestamp already parsed, no source)
# plus where each record came from and what the reader noticed.
RAW_SCHEMA: dict[str, pl.DataType] = {
    **{c: t for c, t in CALL_SCHEMA.items() if c != "source"},
    "_ts_given": pl.Boolean,  # a timestamp value was present (null timestamp = unparseable)
    "_type_error": pl.String,  # set by a reader: which field had the wrong type
    "_file": pl.Int32,  # index into the ingest's file list
    "_line": pl.Int64,  # 1-based line (or row) in that file
}

ISO_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d",
)
_US_PER_UNIT = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 0.001}


class RecordError(Exception):
    """One record cannot be accepted: a short stable `reason` and a `detail` naming the field."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class ReadError(Exception):
    """The file's bytes stop being readable (corrupt or truncated gzip)."""


class FileRefused(Exception):
    """A whole file (or the rest of it) cannot be read: a short reason, and a detail saying what to do."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


# ---------------------------------------------------------------- bytes and lines

def read_head(path: Path, size: int = 1 << 20) -> bytes:
    """Up to `size` bytes of the file's content, gunzipped when it starts with the gzip magic."""
    with open(path, "rb") as f:
        raw = f.read(size if size > 64 else 64)
        if not raw.startswith(GZIP_MAGIC):
            return raw
        d = zlib.decompressobj(wbits=47)
        out = []
        n = 0
        while raw and n < size:
            try:
                piece = d.decompress(raw, size - n)
            except zlib.error:
                break
            out.append(piece)
            n += len(piece)
            if d.eof:
                break
            raw = d.unconsumed_tail or f.read(_RAW_READ)
        return b"".join(out)


def is_gzip(path: Path) -> bool:
    """True when the file starts with the gzip magic bytes."""
    with open(path, "rb") as f:
        return f.read(2) == GZIP_MAGIC


def iter_blocks(path: Path, progress: Callable[[int], None] | None = None,
                block_bytes: int | None = None) -> Iterator[bytes]:
    """The file's content in blocks of `block_bytes` (CHUNK_BYTES), gunzipped transparently.

    Decompression is bounded per block, so a highly compressed file never inflates in memory at
    once; concatenated gzip members are read in turn. `progress` receives the file bytes consumed.
    Raises ReadError after the last good block when a gzip stream is corrupt or ends early.
    """
    block_bytes = block_bytes or CHUNK_BYTES
    with open(path, "rb") as f:
        pending = f.read(_RAW_READ)
        if progress:
            progress(len(pending))
        if not pending.startswith(GZIP_MAGIC):
            block = pending + f.read(max(block_bytes - len(pending), 0))
            while block:
                yield block
                nxt = f.read(block_bytes)
                if progress:
                    progress(len(nxt))
                block = nxt
            return
        d = zlib.decompressobj(wbits=47)
        buf = bytearray()
        while True:
            if d.eof:
                pending = d.unused_data or pending
                if not pending:
                    pending = f.read(_RAW_READ)
                    if progress:
                        progress(len(pending))
                if not pending:
                    break
                d = zlib.decompressobj(wbits=47)  # the next gzip member
            elif not pending:
                pending = f.read(_RAW_READ)
                if progress:
                    progress(len(pending))
                if not pending:
                    break
            try:
                buf += d.decompress(pending, block_bytes - len(buf))
            except zlib.error:
                if buf:
                    yield bytes(buf)
                raise ReadError("the gzip data is corrupt") from None
            pending = d.unconsumed_tail
            if len(buf) >= block_bytes:
                yield bytes(buf)
                buf = bytearray()
        if buf:
            yield bytes(buf)
        if not d.eof:
            raise ReadError("the gzip data ends early (truncated file)")


def iter_segments(path: Path, progress: Callable[[int], None] | None = None
                  ) -> Iterator[tuple[int, bytes, bool, int]]:
    """(first line number, whole lines joined by newlines, last line lacks a newline, byte offset) per block.

    The offset is where the segment starts in the (gunzipped) content. Only the file's final
    segment can end without a newline: a record cut off there is a truncated last line. Raises
    ReadError (after the good segments) when a gzip stream breaks off.
    """
    lineno = 1
    rest = b""
    base = 0
    first = True
    for block in iter_blocks(path, progress):
        if first:
            if block.startswith(UTF8_BOM):
                block, base = block[3:], 3
            first = False
        data = rest + block if rest else block
        cut = data.rfind(b"\n")
        if cut < 0:
            rest = data
            continue
        segment = data[:cut]
        yield lineno, segment, False, base
        lineno += segment.count(b"\n") + 1
        rest = data[cut + 1:]
        base += cut + 1
    if rest:
        yield lineno, rest, True, base


def read_range(path: str, offset: int, length: int) -> bytes:
    """`length` bytes of an uncompressed file from `offset` (a worker reading its own segment)."""
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def is_blank(line: bytes) -> bool:
    return not line or line.isspace()


def parse_error(line: bytes, unterminated: bool, err: orjson.JSONDecodeError) -> RecordError:
    """Why a line did not parse, without quoting it."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as e:
        return RecordError("non-UTF-8 bytes",
                           f"byte {e.start + 1} of the line is not UTF-8; re-export the log as UTF-8")
    if unterminated:
        return RecordError("truncated last line", "the file ends mid-record (no newline after the last line)")
    return RecordError("invalid JSON", f"not valid JSON (column {err.colno})")


def kind(v: Any) -> str:
    """How to name a JSON value's type in a message (never the value itself)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true/false"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "text"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def not_an_object(v: Any) -> RecordError:
    return RecordError("wrong type", f"the record is {kind(v)}, expected a JSON object")


# ---------------------------------------------------------------- value coercion

def as_str(v: Any, field: str) -> str | None:
    """Text, or a number rendered as text; objects, lists and booleans are the wrong type."""
    c = v.__class__
    if v is None or c is str:
        return v
    if c is int or c is float:
        return str(v)
    raise RecordError("wrong type", f"{field} is {kind(v)}, expected text")


def as_int(v: Any, field: str) -> int | None:
    c = v.__class__
    if v is None or c is int:
        return v
    if c is float and v.is_integer():
        return int(v)
    if c is str:
        try:
            return int(v)
        except ValueError:
            try:
                f = float(v)
                if f.is_integer():
                    return int(f)
            except ValueError:
                pass
            raise RecordError("wrong type", f"{field} is text that is not a whole number") from None
    raise RecordError("wrong type", f"{field} is {kind(v)}, expected a whole number")


def as_float(v: Any, field: str) -> float | None:
    c = v.__class__
    if v is None or c is float:
        return v
    if c is int:
        return float(v)
    if c is str:
        try:
            return float(v)
        except ValueError:
            raise RecordError("wrong type", f"{field} is text that is not a number") from None
    raise RecordError("wrong type", f"{field} is {kind(v)}, expected a number")


def as_timestamp(v: Any, field: str) -> tuple[str | None, float | None]:
    """(text, epoch number): exactly one is set when a timestamp is present."""
    c = v.__class__
    if v is None:
        return None, None
    if c is str:
        return v, None
    if c is int or c is float:
        return None, float(v)
    raise RecordError("wrong type", f"{field} is {kind(v)}, expected ISO 8601 text or an epoch number")


def json_text(v: Any, field: str) -> str | None:
    """A JSON value stored as a JSON string column (tools, metadata); text is kept as given."""
    if v is None or v.__class__ is str:
        return v
    try:
        return orjson.dumps(v).decode()
    except TypeError:
        raise RecordError("wrong type", f"{field} cannot be stored as JSON") from None


def error_text(v: Any, field: str) -> str | None:
    """A logged error as text: the string, an error object's message, or its JSON."""
    if v is None or v.__class__ is str:
        return v
    if v.__class__ is dict:
        msg = v.get("message")
        if msg.__class__ is str:
            return msg
        inner = v.get("error")
        if inner.__class__ is dict and inner.get("message").__class__ is str:
            return inner["message"]
    return json_text(v, field)


def render_tool_calls(calls: list[tuple[str | None, str | None]]) -> str:
    """Compact JSON of an assistant turn's tool calls, used as that message's content."""
    out = []
    for name, args in calls:
        try:
            parsed = orjson.loads(args) if args else args
        except orjson.JSONDecodeError:
            parsed = args
        out.append({"name": name, "arguments": parsed})
    return orjson.dumps(out).decode()


def tool_calls_of(v: Any, field: str) -> tuple[list[str | None], list[str | None]]:
    """(names, arguments) from [{name, arguments}] or OpenAI's [{function: {name, arguments}}]."""
    if v is None:
        return [], []
    if v.__class__ is not list:
        raise RecordError("wrong type", f"{field} is {kind(v)}, expected a list of tool calls")
    names: list[str | None] = []
    args: list[str | None] = []
    for i, t in enumerate(v):
        if t.__class__ is not dict:
            raise RecordError("wrong type", f"{field}[{i}] is {kind(t)}, expected an object with name and arguments")
        fn = t.get("function")
        src = fn if fn.__class__ is dict else t
        name = src.get("name")
        if name is not None and name.__class__ is not str:
            raise RecordError("wrong type", f"{field}[{i}].name is {kind(name)}, expected text")
        a = src.get("arguments")
        if a is not None and a.__class__ is not str:
            a = json_text(a, f"{field}[{i}].arguments")
        names.append(name)
        args.append(a)
    return names, args


def content_text(c: Any, field: str) -> str | None:
    """Message content as text: a string, or the text of a list of content parts."""
    if c is None or c.__class__ is str:
        return c
    if c.__class__ is list:
        texts: list[str] = []
        calls: list[tuple[str | None, str | None]] = []
        for p in c:
            if p.__class__ is str:
                texts.append(p)
                continue
            if p.__class__ is not dict:
                raise RecordError("wrong type", f"{field} has a part that is {kind(p)}, expected an object")
            t = p.get("type")
            if t == "tool_call":
                a = p.get("arguments")
                calls.append((p.get("name"), a if a is None or a.__class__ is str else json_text(a, field)))
            elif t == "tool_call_response":
                r = p.get("response", p.get("result"))
                texts.append(r if r.__class__ is str else (json_text(r, field) or ""))
            else:
                x = p.get("text", p.get("content"))
                if x.__class__ is str:
                    texts.append(x)
                elif x is None:
                    texts.append(f"[{t or 'part'}]")
                else:
                    texts.append(json_text(x, field) or "")
        if calls:
            texts.append(render_tool_calls(calls))
        return "\n".join(texts)
    if c.__class__ is dict:
        return json_text(c, field)
    if c.__class__ in (int, float):
        return str(c)
    raise RecordError("wrong type", f"{field} is {kind(c)}, expected text")


def messages_of(v: Any, field: str) -> tuple[list[str] | None, list[str | None] | None]:
    """(roles, contents) of a list of {role, content} messages.

    An assistant turn that only calls tools gets a compact JSON rendering of its tool calls as
    content; tool results (role tool) keep their text. Roles are kept as logged.
    """
    if v is None:
        return None, None
    if v.__class__ is not list:
        raise RecordError("wrong type", f"{field} is {kind(v)}, expected a list of messages")
    roles: list[str] = []
    contents: list[str | None] = []
    for m in v:
        if m.__class__ is dict:
            role = m.get("role")
            c = m.get("content")
            if role.__class__ is str and c.__class__ is str:  # the common case
                roles.append(role)
                contents.append(c)
                continue
        i = len(roles)
        if m.__class__ is not dict:
            raise RecordError("wrong type", f"{field}[{i}] is {kind(m)}, expected an object with role and content")
        if role.__class__ is not str:
            raise RecordError("wrong type", f"{field}[{i}].role is {kind(role)}, expected text")
        c = content_text(c, f"{field}[{i}].content")
        if not c and (m.get("tool_calls") or m.get("function_call")):
            tc = m.get("tool_calls") or [m["function_call"]]
            names, args = tool_calls_of(tc, f"{field}[{i}].tool_calls")
            c = render_tool_calls(list(zip(names, args)))
        roles.append(role)
        contents.append(c)
    return roles, contents


# ---------------------------------------------------------------- rows -> frame

def timestamp_expr(text: pl.Expr, number: pl.Expr, unit: str | None = None) -> pl.Expr:
    """UTC datetime from ISO 8601 text (several layouts) or epoch numbers (text or numeric).

    `unit` None guesses seconds/ms/us/ns from the number's magnitude.
    """
    iso = [text.str.to_datetime(f, time_unit="us", time_zone="UTC", strict=False) for f in ISO_FORMATS]
    return pl.coalesce(*iso, epoch_expr(text.cast(pl.Float64, strict=False), unit), epoch_expr(number, unit))


def epoch_expr(x: pl.Expr, unit: str | None) -> pl.Expr:
    """UTC datetime[us] from epoch numbers in `unit`, or guessed by magnitude when unit is None."""
    x = x.cast(pl.Float64, strict=False)
    if unit is None:
        a = x.abs()
        factor = (pl.when(a < 1e11).then(1e6).when(a < 1e14).then(1e3).when(a < 1e17).then(1.0).otherwise(1e-3))
    else:
        factor = pl.lit(float(_US_PER_UNIT[unit]))
    us = (x * factor).round(0)
    us = pl.when(us.is_finite() & (us.abs() < 9.2e18)).then(us).otherwise(None).cast(pl.Int64)
    return us.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def list_column(left: tuple | list, right: tuple | list, names: tuple[str, str]) -> pl.Series:
    """A list[struct{a, b}] column from per-row parallel lists (None = null list)."""
    lengths = [0 if x is None else len(x) for x in left]
    values = pl.DataFrame({
        names[0]: pl.Series(list(chain.from_iterable(filter(None, left))), dtype=pl.String),
        names[1]: pl.Series(list(chain.from_iterable(filter(None, right))), dtype=pl.String),
    }).to_struct("v").to_arrow(compat_level=pl.CompatLevel.oldest())
    offsets = pa.array([0, *accumulate(lengths)], pa.int64())
    mask = pa.array([x is None for x in left], pa.bool_())
    return pl.from_arrow(pa.LargeListArray.from_arrays(offsets, values, mask=mask))  # type: ignore[return-value]


def rows_to_frame(rows: list[tuple], files: list[int], lines: list[int]) -> pl.DataFrame:
    """A chunk of reader rows as a frame with RAW_SCHEMA (timestamps parsed, not yet validated)."""
    if not rows:
        return pl.DataFrame(schema=RAW_SCHEMA)
    cols = dict(zip(ROW_FIELDS, zip(*rows)))
    s = pl.String
    data = {
        "call_id": pl.Series(cols["call_id"], dtype=s),
        "ts_text": pl.Series(cols["ts_text"], dtype=s),
        "ts_num": pl.Series(cols["ts_num"], dtype=pl.Float64),
        "model": pl.Series(cols["model"], dtype=s),
        "provider": pl.Series(cols["provider"], dtype=s),
        "messages": list_column(cols["msg_roles"], cols["msg_contents"], ("role", "content")),
        "tools": pl.Series(cols["tools"], dtype=s),
        "response_text": pl.Series(cols["response_text"], dtype=s),
        "tool_calls": list_column(cols["tc_names"], cols["tc_args"], ("name", "arguments")),
        "input_tokens": pl.Series(cols["input_tokens"], dtype=pl.Int64),
        "output_tokens": pl.Series(cols["output_tokens"], dtype=pl.Int64),
        "latency_ms": pl.Series(cols["latency_ms"], dtype=pl.Float64),
        "cost_usd": pl.Series(cols["cost_usd"], dtype=pl.Float64),
        "status": pl.Series(cols["status"], dtype=s),
        "error": pl.Series(cols["error"], dtype=s),
        "session_id": pl.Series(cols["session_id"], dtype=s),
        "user_id": pl.Series(cols["user_id"], dtype=s),
        "workload_id": pl.Series(cols["workload_id"], dtype=s),
        "metadata": pl.Series(cols["metadata"], dtype=s),
        "_file": pl.Series(files, dtype=pl.Int32),
        "_line": pl.Series(lines, dtype=pl.Int64),
    }
    df = pl.DataFrame(data)
    text, num = pl.col("ts_text"), pl.col("ts_num")
    # the common layout first; the full set of layouts only when some text did not parse
    ts = df.select(text.str.to_datetime(ISO_FORMATS[0], time_unit="us", time_zone="UTC", strict=False)
                   .alias("t"), text.is_not_null().alias("given"))
    if ts.select((pl.col("t").is_null() & pl.col("given")).any()).item() or df["ts_num"].null_count() < df.height:
        ts = df.select(timestamp_expr(text, num).alias("t"))
    return df.with_columns(
        timestamp=ts["t"],
        _ts_given=text.is_not_null() | num.is_not_null(),
        _type_error=pl.lit(None, dtype=pl.String),
    ).select([pl.col(c).cast(t) for c, t in RAW_SCHEMA.items()])


# ---------------------------------------------------------------- the line loop

class RowSink(Protocol):
    """Where readers put rows (and their file index and line) and rejected records."""

    rows: list[tuple]
    files: list[int]
    lines: list[int]

    def reject(self, file_index: int, line: int | None, reason: str, detail: str) -> None: ...

    def flush_if_full(self) -> None: ...


def parse_lines(data: bytes, first_line: int, unterminated: bool, file_index: int, sink: RowSink,
                to_row: Callable[[Any, bytes], tuple] | None = None,
                to_rows: Callable[[Any, bytes], list] | None = None) -> int:
    """Parse a segment of JSON lines record by record into `sink`; returns the records read.

    `to_row` maps one line to one row; `to_rows` maps one line to several rows or RecordErrors
    (OTLP exports). Blank lines are not records.
    """
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    rows, files, lines_out = sink.rows, sink.files, sink.lines
    reject, flush_if_full = sink.reject, sink.flush_if_full
    limit = CHUNK_ROWS
    read = 0
    lines = data.split(b"\n")
    last = len(lines) - 1
    for i, line in enumerate(lines):
        if not line or line.isspace():
            continue
        n = first_line + i
        try:
            obj = loads(line)
        except decode_error as e:
            read += 1
            err = parse_error(line, unterminated and i == last, e)
            reject(file_index, n, err.reason, err.detail)
            continue
        if to_row is not None:
            read += 1
            try:
                rows.append(to_row(obj, line))
            except RecordError as e:
                reject(file_index, n, e.reason, e.detail)
                continue
            files.append(file_index)
            lines_out.append(n)
            if len(rows) >= limit:
                flush_if_full()
        else:
            try:
                items = to_rows(obj, line)  # type: ignore[misc]
            except RecordError as e:
                items = [e]
            read += len(items)
            for item in items:
                if item.__class__ is RecordError:
                    reject(file_index, n, item.reason, item.detail)
                else:
                    rows.append(item)
                    files.append(file_index)
                    lines_out.append(n)
            flush_if_full()
    return read
