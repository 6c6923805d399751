"""S1 ingest, one chunk: raw rows -> validated, priced calls in a sorted part file (Arrow IPC).

    chunk = parse_chunk(segments, part, price_rows)     # JSON lines (in a worker process or here)
    chunk = accept_frame(raw, part, rels, price_rows, rejects, read)    # a frame a reader built

The same code runs in a worker process and in the ingesting one, so the part files and the Chunk
(the call_ids in reading order, the rejects, the counts) do not depend on where it ran.
"""

from __future__ import annotations

import gc
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from fde_toolkit.logs import canonical, jsonl, openai, otel
from fde_toolkit.logs.jsonl import parse_lines, read_range, rows_to_frame
from fde_toolkit.logs.schema import conform
from fde_toolkit.logs.validation import check_calls

JSON_READERS = {"canonical": canonical.to_row, "openai": openai.to_row}

# (file index, path under data/raw, format, first line, lines, last line unterminated). The lines are
# the newline-joined bytes, or (file, offset, length) of an uncompressed file for a worker to read.
Segment = tuple[int, str, str, int, "bytes | tuple[str, int, int]", bool]
Reject = tuple[int, "int | None", str, str]


@dataclass
class Chunk:
    """What one chunk produced: a part file of accepted calls (sorted) and, in reading order, the
    call_id, file and line of each of its calls (row `_seq` of the part), plus its rejects."""

    part: str | None
    ids: list[str]
    files: list[int]
    lines: list[int]
    rejects: list[Reject]
    read: dict[int, int]
    unpriced: list[str]
    bounds: tuple[tuple, tuple] | None = None  # (timestamp, call_id) of the part's first and last row


class ChunkRows:
    """A RowSink for one chunk: rows become a frame every CHUNK_ROWS, so Python objects stay bounded."""

    def __init__(self) -> None:
        self.rows: list[tuple] = []
        self.files: list[int] = []
        self.lines: list[int] = []
        self.rejects: list[Reject] = []
        self.frames: list[pl.DataFrame] = []

    def reject(self, file_index: int, line: int | None, reason: str, detail: str) -> None:
        self.rejects.append((file_index, line, reason, detail))

    def flush_if_full(self) -> None:
        if len(self.rows) >= jsonl.CHUNK_ROWS:
            self._to_frame()

    def _to_frame(self) -> None:
        if self.rows:
            self.frames.append(rows_to_frame(self.rows, self.files, self.lines))
            self.rows, self.files, self.lines = [], [], []

    def frame(self) -> pl.DataFrame:
        self._to_frame()
        if not self.frames:
            return rows_to_frame([], [], [])
        return pl.concat(self.frames) if len(self.frames) > 1 else self.frames[0]


_PRICE_TABLES: dict[str, Any] = {}


def price_table(price_rows: list) -> Any:
    """The engagement's price table, loaded once per process."""
    from fde_toolkit.pricing import PriceTable

    key = json.dumps([r.model_dump() if hasattr(r, "model_dump") else r for r in price_rows], sort_keys=True)
    if key not in _PRICE_TABLES:
        _PRICE_TABLES[key] = PriceTable.load(extra_rows=price_rows)
    return _PRICE_TABLES[key]


def accept_frame(raw: pl.DataFrame, part: Path, rels: dict[int, str], price_rows: list,
                 rejects: list[Reject], read: dict[int, int]) -> Chunk:
    """Validate a chunk (RAW_SCHEMA), price its calls and write them, sorted, to `part`."""
    good, bad = check_calls(raw)
    rejects = rejects + list(bad.iter_rows())
    if good.is_empty():
        return Chunk(None, [], [], [], rejects, read, [])
    good = good.with_row_index("_seq")
    source = pl.col("_file").replace_strict(rels, return_dtype=pl.String)
    calls = conform(good.with_columns(source=pl.concat_str([source, pl.lit(":"), pl.col("_line").cast(pl.String)])))
    calls = conform(price_table(price_rows).apply(calls)).with_columns(good["_seq"].cast(pl.Int64))
    priced = pl.col("input_tokens").is_not_null() & pl.col("output_tokens").is_not_null()
    unpriced = calls.filter(pl.col("cost_usd").is_null() & priced)["model"].unique().to_list()
    calls = calls.sort(["timestamp", "call_id", "_seq"])
    calls.write_ipc(part, compression="uncompressed")
    ends = calls.select("timestamp", "call_id").gather([0, calls.height - 1]).rows()
    return Chunk(str(part), good["call_id"].to_list(), good["_file"].to_list(), good["_line"].to_list(),
                 rejects, read, sorted(m for m in unpriced if m is not None), (ends[0], ends[1]))


def parse_chunk(segments: list[Segment], part: str, price_rows: list) -> Chunk:
    """Parse segments of JSON lines into a part file (runs in a worker process, or in this one)."""
    gc_was_on = gc.isenabled()
    gc.disable()  # rows are acyclic; the cyclic collector would rescan every chunk's objects over and over
    try:
        sink = ChunkRows()
        read: Counter[int] = Counter()
        rels: dict[int, str] = {}
        for index, rel, fmt, first_line, lines, unterminated in segments:
            rels[index] = rel
            data = lines if isinstance(lines, bytes) else read_range(*lines)
            if fmt == "otel":
                read[index] += parse_lines(data, first_line, unterminated, index, sink, to_rows=otel.to_rows)
            else:
                read[index] += parse_lines(data, first_line, unterminated, index, sink, to_row=JSON_READERS[fmt])
        return accept_frame(sink.frame(), Path(part), rels, price_rows, sink.rejects, dict(read))
    finally:
        if gc_was_on:
            gc.enable()
