"""S1 ingest: every file under data/raw/ into artifacts/calls.parquet; bad records into quarantine.jsonl.

    report = ingest(Engagement.load("engagements/acme"))
    print(report.render())

Files are streamed in chunks of about jsonl.CHUNK_BYTES (small files share a chunk; at most
jsonl.CHUNK_ROWS records are Python objects at once). Each chunk is parsed (orjson and one tight
extraction function per format), validated with polars expressions, priced and written as a sorted
part file; when the logs are big (PARALLEL_MIN_BYTES) and cores are idle, worker processes do this
for the JSON-lines chunks. Chunks are taken back in reading order to de-duplicate call_id across the
whole ingest (first occurrence wins; only ids are kept), and the parts are merged into
calls.parquet sorted by timestamp and call_id in bounded memory. The artifacts do not depend on the
number of workers. Every record read ends up accepted or in quarantine, with its file, line and
reason: per file, accepted + quarantined == read.

A refused file (empty, unknown format, unreadable, no usable column mapping) counts as ONE record
read and one quarantined, with line null; when a file breaks off after some records (corrupt gzip,
CSV parse error), the records before count as read and the rest counts as that one more record.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
import polars as pl
from tqdm import tqdm

from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement
from fde_toolkit.step import StepOutputs, StepResult, run_step
from fde_toolkit.logs import canonical, jsonl, openai, otel
from fde_toolkit.logs.detect import EMPTY, csv_separator, sniff_format, source_for
from fde_toolkit.logs.jsonl import FileRefused, RecordError, iter_segments, parse_lines, read_range, rows_to_frame
from fde_toolkit.logs.schema import CALL_SCHEMA, MAX_LATENCY_MS, conform, empty_calls
from fde_toolkit.logs.tabular import check_mapping, read_tabular

# Bump when readers or validation change what lands in calls.parquet, so a re-run is not skipped.
INGEST_VERSION = 1
MISSING = "missing required field"
_OK_STATUS = ("ok", "success", "succeeded", "completed", "complete", "200", "true")
_JSON_READERS = {"canonical": canonical.to_row, "openai": openai.to_row}
# Logs smaller than this are parsed in this process; bigger ones by worker processes.
PARALLEL_MIN_BYTES = 64 << 20
MAX_WORKERS = 4


# ---------------------------------------------------------------- the report

@dataclass
class FileRow:
    """Counts for one raw file. refused: "reason: what to do" when the file (or its rest) was not read."""

    file: str
    format: str
    read: int = 0
    accepted: int = 0
    quarantined: int = 0
    refused: str | None = None


@dataclass
class IngestReport:
    """What an ingest read, accepted and quarantined, by file and by reason."""

    files: list[FileRow]
    reasons: dict[str, int]
    totals: dict[str, int]
    unpriced_models: list[str] = field(default_factory=list)

    @property
    def read(self) -> int:
        return int(self.totals.get("read", 0))

    @property
    def accepted(self) -> int:
        return int(self.totals.get("accepted", 0))

    @property
    def quarantined(self) -> int:
        return int(self.totals.get("quarantined", 0))

    def to_dict(self) -> dict[str, Any]:
        return {"files": [asdict(f) for f in self.files], "reasons": dict(self.reasons),
                "totals": dict(self.totals), "unpriced_models": list(self.unpriced_models)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "IngestReport":
        return cls(files=[FileRow(**f) for f in d.get("files", [])], reasons=dict(d.get("reasons", {})),
                   totals=dict(d.get("totals", {})), unpriced_models=list(d.get("unpriced_models", [])))

    def render(self, top: int = 15) -> str:
        """A readable summary: totals, counts by file (the worst `top` when there are many), by reason."""
        t = self.totals
        out = []
        out.append(f"Ingest: {t.get('files', 0):,} files, {t.get('read', 0):,} records read: "
                   f"{t.get('accepted', 0):,} accepted, {t.get('quarantined', 0):,} quarantined"
                   + (f", {t['refused_files']:,} file(s) refused." if t.get("refused_files") else "."))
        rows = self.files
        rest: list[FileRow] = []
        if len(rows) > top:
            ranked = sorted(rows, key=lambda f: (-f.quarantined, f.file))
            rows, rest = ranked[:top], ranked[top:]
        width = min(max([len(f.file) for f in rows] + [len("file")]), 60)
        out.append("")
        out.append(f"{'file':<{width}}  {'format':<9} {'read':>10} {'accepted':>10} {'quarantined':>11}  refused")
        for f in rows:
            name = f.file if len(f.file) <= width else "..." + f.file[-(width - 3):]
            why = (f.refused or "").split(":")[0]
            out.append(f"{name:<{width}}  {f.format:<9} {f.read:>10,} {f.accepted:>10,} {f.quarantined:>11,}  {why}")
        if rest:
            label = f"({len(rest):,} more files)"
            out.append(f"{label:<{width}}  {'':<9} {sum(f.read for f in rest):>10,} "
                       f"{sum(f.accepted for f in rest):>10,} {sum(f.quarantined for f in rest):>11,}  "
                       f"{sum(1 for f in rest if f.refused) or ''}")
        if self.reasons:
            out.append("")
            out.append("quarantined by reason")
            for reason, n in sorted(self.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
                out.append(f"  {reason:<28} {n:>10,}")
        refused = [f for f in self.files if f.refused]
        if refused:
            out.append("")
            out.append("refused files (each counts as 1 record read and 1 quarantined):")
            for f in refused[:top]:
                out.append(f"  {f.file}: {f.refused}")
            if len(refused) > top:
                out.append(f"  ... and {len(refused) - top:,} more; see artifacts/quarantine.jsonl")
        if self.unpriced_models:
            out.append("")
            out.append("no price for models (cost_usd left null): " + ", ".join(self.unpriced_models[:20])
                       + ". Add them under prices: in engagement.yaml.")
        return "\n".join(out)


# ---------------------------------------------------------------- validation

def _blank(c: str) -> pl.Expr:
    return pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "")


def _checks() -> list[tuple[pl.Expr, str, pl.Expr]]:
    c = pl.col
    lit = pl.lit
    latency = c("latency_ms")
    return [
        (c("_type_error").is_not_null(), "wrong type", c("_type_error")),
        (_blank("call_id"), MISSING, lit("call_id is missing")),
        (~c("_ts_given"), MISSING, lit("timestamp is missing")),
        (c("timestamp").is_null(), "invalid timestamp", lit("timestamp is not ISO 8601 text or an epoch number")),
        (_blank("model"), MISSING, lit("model is missing")),
        (c("messages").is_null() | (c("messages").list.len() == 0), MISSING, lit("messages is missing or empty")),
        (latency < 0, "invalid latency", lit("latency_ms is negative")),
        (latency.is_nan() | (latency > MAX_LATENCY_MS), "invalid latency",
         lit(f"latency_ms is above {MAX_LATENCY_MS:,.0f} ms (one hour) or not a number")),
        ((c("input_tokens") < 0) | (c("output_tokens") < 0), "invalid token count",
         lit("input_tokens or output_tokens is negative")),
        (c("cost_usd") < 0, "invalid cost", lit("cost_usd is negative")),
    ]


def check_calls(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Split a chunk (RAW_SCHEMA) into acceptable calls and rejects (_file, _line, reason, detail).

    The first failing check names the reason. Accepted calls get status normalised to ok / error.
    """
    checks = _checks()
    reason: Any = pl.when(checks[0][0]).then(pl.lit(checks[0][1]))
    detail: Any = pl.when(checks[0][0]).then(checks[0][2])
    for cond, r, d in checks[1:]:
        reason = reason.when(cond).then(pl.lit(r))
        detail = detail.when(cond).then(d)
    df = raw.with_columns(reason.otherwise(None).alias("reason"), detail.otherwise(None).alias("detail"))
    bad = df.filter(pl.col("reason").is_not_null()).select("_file", "_line", "reason", "detail")
    status = pl.col("status").str.strip_chars().str.to_lowercase()
    good = df.filter(pl.col("reason").is_null()).with_columns(
        status=pl.when(pl.col("status").is_null())
        .then(pl.when(pl.col("error").is_null()).then(pl.lit("ok")).otherwise(pl.lit("error")))
        .when(status.is_in(_OK_STATUS)).then(pl.lit("ok"))
        .otherwise(pl.lit("error")))
    return good.drop("reason", "detail"), bad


# ---------------------------------------------------------------- one chunk: rows -> part file

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


class _Rows:
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


def _price_table(price_rows: list) -> Any:
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
    calls = conform(_price_table(price_rows).apply(calls)).with_columns(good["_seq"].cast(pl.Int64))
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
        sink = _Rows()
        read: Counter[int] = Counter()
        rels: dict[int, str] = {}
        for index, rel, fmt, first_line, lines, unterminated in segments:
            rels[index] = rel
            data = lines if isinstance(lines, bytes) else read_range(*lines)
            if fmt == "otel":
                read[index] += parse_lines(data, first_line, unterminated, index, sink, to_rows=otel.to_rows)
            else:
                read[index] += parse_lines(data, first_line, unterminated, index, sink, to_row=_JSON_READERS[fmt])
        return accept_frame(sink.frame(), Path(part), rels, price_rows, sink.rejects, dict(read))
    finally:
        if gc_was_on:
            gc.enable()


class WorkerDied(Exception):
    """A worker process ended without answering."""


class _Workers:
    """Worker processes that parse chunks, fed task files through their stdin, answered in order.

    They are fresh interpreters running `_worker_main`, so the caller's script is never re-imported in
    them (as multiprocessing's spawn would do) and nothing is forked.
    """

    command = [sys.executable, "-c", "from fde_toolkit.logs.ingest import _worker_main; _worker_main()"]

    def __init__(self, n: int, workdir: Path):
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, [env.get("PYTHONPATH")])])
        self.procs = [subprocess.Popen(self.command,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=workdir)
                      for _ in range(n)]
        self.turn = 0

    def submit(self, segments: list[Segment], part: str, price_rows: list) -> tuple[subprocess.Popen, str]:
        task = part + ".task"
        with open(task, "wb") as f:
            pickle.dump((segments, part, price_rows), f, protocol=pickle.HIGHEST_PROTOCOL)
        proc = self.procs[self.turn % len(self.procs)]
        self.turn += 1
        try:
            proc.stdin.write(task.encode() + b"\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
        except OSError:
            raise WorkerDied() from None
        return proc, task

    @staticmethod
    def result(handle: tuple[subprocess.Popen, str]) -> Chunk:
        proc, task = handle
        done = proc.stdout.readline().decode().strip()  # type: ignore[union-attr]
        if done != task:
            raise WorkerDied()
        with open(task + ".out", "rb") as f:
            out = pickle.load(f)
        os.unlink(task)
        os.unlink(task + ".out")
        if isinstance(out, str):
            raise RuntimeError(f"an ingest worker failed:\n{out}")
        return out

    def close(self) -> None:
        for proc in self.procs:
            try:
                proc.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = []


def _worker_main() -> None:
    """A worker: for each task file named on stdin, parse the chunk, write the answer, name it on stdout."""
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything else printed goes to stderr, not into the answers
    gc.disable()
    for line in sys.stdin:
        task = line.strip()
        try:
            with open(task, "rb") as f:
                segments, part, price_rows = pickle.load(f)
            out: Chunk | str = parse_chunk(segments, part, price_rows)
        except Exception:
            out = traceback.format_exc()
        with open(task + ".out", "wb") as f:
            pickle.dump(out, f, protocol=pickle.HIGHEST_PROTOCOL)
        answer.write(task + "\n")
        answer.flush()


# ---------------------------------------------------------------- the run

class _Ingest:
    """One ingest: cuts files into chunks, has them parsed (in order), de-duplicates, counts."""

    def __init__(self, rels: list[str], workdir: Path, price_rows: list, workers: int):
        self.rels = rels
        self.stats = [FileRow(file=r, format="unknown") for r in rels]
        self.workdir = workdir
        self.price_rows = price_rows
        self.segments: list[Segment] = []
        self.segment_bytes = 0
        self.queue: deque[tuple[Any, Chunk | None, list[Segment], str]] = deque()
        self.seen: dict[str, int] = {}
        self.parts: list[Path] = []
        self.drops: list[set[int]] = []
        self.bounds: list[tuple[tuple, tuple] | None] = []
        self.reasons: Counter[str] = Counter()
        self.unpriced: set[str] = set()
        self.n_parts = 0
        self.quarantine = workdir / "quarantine.jsonl"
        self.qout = open(self.quarantine, "wb")
        self.workers = workers
        self.pool: _Workers | None = None
        if workers > 1:
            try:
                self.pool = _Workers(workers, workdir)
            except OSError:  # no processes to be had: parse here
                self.workers = 1

    def _next_part(self) -> Path:
        self.n_parts += 1
        return self.workdir / f"part-{self.n_parts:08d}.arrow"

    # ---- feeding, in reading order
    def add_segment(self, segment: Segment, size: int) -> None:
        self.segments.append(segment)
        self.segment_bytes += size
        if self.segment_bytes >= jsonl.CHUNK_BYTES:
            self.submit()

    def submit(self) -> None:
        """Send the pending segments off as one chunk."""
        if not self.segments:
            return
        segments, self.segments, self.segment_bytes = self.segments, [], 0
        part = str(self._next_part())
        if self.pool is not None:
            try:
                self.queue.append((self.pool.submit(segments, part, self.price_rows), None, segments, part))
            except WorkerDied:
                self._stop_pool()
        if self.pool is None:
            self.queue.append((None, parse_chunk(segments, part, self.price_rows), segments, part))
        self._drain(self.workers + 1)

    def add_chunk(self, chunk: Chunk) -> None:
        """A chunk made here (tabular batch, OTLP document, refusal), queued after what came before."""
        self.submit()
        self.queue.append((None, chunk, [], ""))
        self._drain(self.workers + 1)

    def add_frame(self, index: int, frame: pl.DataFrame) -> None:
        """A tabular reader's batch (RAW_SCHEMA)."""
        self.add_chunk(accept_frame(frame, self._next_part(), {index: self.rels[index]}, self.price_rows,
                                    [], {index: frame.height}))

    def refuse(self, index: int, e: FileRefused) -> None:
        self.stats[index].refused = f"{e.reason}: {e.detail}"
        self.add_chunk(Chunk(None, [], [], [], [(index, None, e.reason, e.detail)], {index: 1}, []))

    def finish(self) -> None:
        self.submit()
        self._drain(0)
        self.qout.close()
        self._stop_pool()

    def close(self) -> None:
        self.qout.close()
        self._stop_pool()

    def _stop_pool(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    # ---- taking chunks back, in order
    def _drain(self, keep: int) -> None:
        while len(self.queue) > keep:
            fut, chunk, segments, part = self.queue.popleft()
            if chunk is None:
                try:
                    chunk = _Workers.result(fut)
                except WorkerDied:  # a worker died (or could not start): carry on in this process
                    self._stop_pool()
                    chunk = parse_chunk(segments, part, self.price_rows)
            self._absorb(chunk)

    def _absorb(self, chunk: Chunk) -> None:
        stats = self.stats
        for index, n in chunk.read.items():
            stats[index].read += n
        rejects = chunk.rejects
        drops: set[int] = set()
        if chunk.ids:
            seen, rels, files, lines = self.seen, self.rels, chunk.files, chunk.lines
            for seq, cid in enumerate(chunk.ids):
                first = seen.get(cid)
                if first is None:
                    seen[cid] = (files[seq] << 40) | lines[seq]
                else:
                    drops.add(seq)
                    where = f"{rels[first >> 40]}:{first & ((1 << 40) - 1)}"
                    rejects.append((files[seq], lines[seq], "duplicate call_id", f"call_id was first seen at {where}"))
            for index, n in Counter(files).items():
                stats[index].accepted += n
            for seq in drops:
                stats[files[seq]].accepted -= 1
        if chunk.part is not None and len(drops) < len(chunk.ids):
            self.parts.append(Path(chunk.part))
            self.drops.append(drops)
            self.bounds.append(chunk.bounds)
        self.unpriced.update(chunk.unpriced)
        self._write_rejects(rejects)

    def _write_rejects(self, rejects: list[Reject]) -> None:
        if not rejects:
            return
        big = 1 << 62
        rejects.sort(key=lambda r: (r[0], big if r[1] is None else r[1]))
        out = []
        for index, line, reason, detail in rejects:
            rel = self.rels[index]
            self.stats[index].quarantined += 1
            self.reasons[reason] += 1
            out.append(orjson.dumps({"source": rel if line is None else f"{rel}:{line}", "file": rel, "line": line,
                                     "reason": reason, "detail": detail}))
        self.qout.write(b"\n".join(out) + b"\n")


def _read_file(run: _Ingest, index: int, path: Path, sources: list, progress: Any) -> None:
    """Detect one file's format (engagement.yaml first, then content) and stream it into the run."""
    rel = run.rels[index]
    match = source_for(rel, sources)
    source_index, source = match if match else (None, None)
    configured = source.format if source is not None else "auto"
    sniffed = sniff_format(path)
    fmt = sniffed if configured == "auto" else configured
    run.stats[index].format = fmt or "unknown"
    if sniffed == EMPTY:
        run.stats[index].format = configured if configured != "auto" else "empty"
        raise FileRefused("empty file", "the file has no content; remove it from data/raw/ or copy the real export")
    if fmt is None:
        raise FileRefused("unknown format",
                          "not canonical JSONL, OpenAI request/response pairs, OTLP JSON, CSV or Parquet; set "
                          "format: on a source whose glob matches this file in engagement.yaml, or remove it")
    if fmt in _JSON_READERS or (fmt == "otel" and otel.one_export_per_line(path)):
        # workers read an uncompressed file's segments themselves: no bytes through a pipe
        by_offset = run.pool is not None and not jsonl.is_gzip(path)
        try:
            for first_line, data, unterminated, offset in iter_segments(path, progress):
                lines = (str(path), offset, len(data)) if by_offset else data
                run.add_segment((index, rel, fmt, first_line, lines, unterminated), len(data))
        except jsonl.ReadError as e:
            raise FileRefused("unreadable file", f"{e}; the lines before it were read, the rest was not. "
                                                 "Copy or export the file again") from None
    elif fmt == "otel":
        sink = _Rows()
        items = otel.read_document(path, progress)
        for n, item in enumerate(items, 1):
            if item.__class__ is RecordError:
                sink.reject(index, n, item.reason, item.detail)
            else:
                sink.rows.append(item)
                sink.files.append(index)
                sink.lines.append(n)
                sink.flush_if_full()
        run.add_chunk(accept_frame(sink.frame(), run._next_part(), {index: rel}, run.price_rows, sink.rejects,
                                   {index: len(items)}))
    else:
        sep = csv_separator(path) if fmt == "csv" else ","
        read_tabular(path, fmt, rel, index, source, source_index, lambda f: run.add_frame(index, f),
                     run.workdir, separator=sep)


def write_sorted_calls(parts: list[Path], drops: list[set[int]], out: Path, workdir: Path, bucket_rows: int,
                       bounds: list | None = None) -> None:
    """Merge sorted part files (Arrow IPC) into one Parquet file sorted by (timestamp, call_id).

    Rows whose `_seq` is in the part's `drops` (duplicates) are left out. When the parts follow each
    other in order (chronological logs; `bounds` holds each part's first and last key) they are
    streamed straight through; otherwise keys are ranked globally, rows spilled into rank buckets of
    `bucket_rows`, and each bucket sorted on its own, so memory stays bounded by a bucket.
    """
    order = ["timestamp", "call_id"]
    columns = list(CALL_SCHEMA)

    def scan(i: int) -> pl.LazyFrame:
        lf = pl.scan_ipc(parts[i])
        return lf.filter(~pl.col("_seq").is_in(sorted(drops[i]))) if drops[i] else lf

    if not parts:
        empty_calls().write_parquet(out)
        return
    if bounds and all(b is not None for b in bounds) and all(
            bounds[i][1] <= bounds[i + 1][0] for i in range(len(bounds) - 1)):
        lf = pl.concat([scan(i) for i in range(len(parts))]).select(columns)
        lf.sink_parquet(out)
        return
    keys = pl.concat([scan(i).select(order).with_columns(_part=pl.lit(i, dtype=pl.Int32), _row=pl.int_range(pl.len()))
                      for i in range(len(parts))]).collect()
    ts, cid = pl.col("timestamp"), pl.col("call_id")
    in_order = keys.select(((ts > ts.shift()) | ((ts == ts.shift()) & (cid > cid.shift()))).slice(1).all()).item()
    total = keys.height
    if in_order is not False:
        pl.concat([scan(i) for i in range(len(parts))]).select(columns).sink_parquet(out)
        return
    if total <= bucket_rows:
        pl.concat([scan(i) for i in range(len(parts))]).select(columns).sort(order).collect().write_parquet(out)
        return
    ranks = keys.sort(order).with_row_index("_rank").with_columns(_bucket=pl.col("_rank") // bucket_rows)
    spill = workdir / "buckets"
    spill.mkdir(exist_ok=True)
    by_part = ranks.partition_by("_part", as_dict=True)
    for i in range(len(parts)):
        if (i,) not in by_part:
            continue
        frame = scan(i).with_columns(_row=pl.int_range(pl.len())).collect()
        frame = frame.join(by_part[(i,)].select("_row", "_rank", "_bucket"), on="_row", how="inner")
        for (b,), piece in frame.partition_by("_bucket", as_dict=True).items():
            piece.write_ipc(spill / f"b{b:08d}-p{i:08d}.arrow", compression="uncompressed")
        del frame
    buckets = []
    for b in range((total + bucket_rows - 1) // bucket_rows):
        pieces = sorted(spill.glob(f"b{b:08d}-p*.arrow"))
        bucket = spill / f"sorted-{b:08d}.arrow"
        pl.concat([pl.read_ipc(x) for x in pieces]).sort("_rank").select(columns).write_ipc(bucket)
        for x in pieces:
            x.unlink()
        buckets.append(bucket)
    pl.concat([pl.scan_ipc(x) for x in buckets]).sink_parquet(out)


def _idle_cores(cpus: list[int], interval: float = 0.2) -> float | None:
    """How many of `cpus` were idle over a short sample (Linux /proc/stat), or None when unknown."""
    def sample() -> dict[int, tuple[int, int]]:
        out = {}
        with open("/proc/stat", encoding="ascii") as f:
            for line in f:
                name, *vals = line.split()
                if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                    ticks = [int(v) for v in vals[:8]]
                    out[int(name[3:])] = (sum(ticks), ticks[3] + ticks[4])
        return out
    try:
        before = sample()
        time.sleep(interval)
        after = sample()
    except (OSError, ValueError, IndexError):
        return None
    idle = 0.0
    for cpu, (total, free) in after.items():
        if cpu in before and total > before[cpu][0]:
            idle += (free - before[cpu][1]) / (total - before[cpu][0])
    return idle if after else None


def _workers(sizes: list[int]) -> int:
    """Worker processes for this ingest: none for small logs or a busy machine, else one per idle core."""
    if sum(sizes) < PARALLEL_MIN_BYTES:
        return 1
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        cpus = list(range(os.cpu_count() or 1))
    idle = _idle_cores(cpus)
    usable = len(cpus) if idle is None else int(idle + 0.5)
    workers = min(MAX_WORKERS, len(cpus), usable)
    return workers if workers >= 2 else 1


def _run(eng: Engagement, files: list[Path]) -> IngestReport:
    prefix = str(eng.raw_dir) + os.sep
    rels = [str(p)[len(prefix):].replace(os.sep, "/") if str(p).startswith(prefix) else p.relative_to(eng.raw_dir).as_posix()
            for p in files]
    eng.artifacts_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=".ingest-", dir=eng.artifacts_dir))
    sizes = [p.stat().st_size for p in files]
    sources = eng.config.sources
    price_rows = list(eng.config.prices)
    _price_table(price_rows)  # a bad price row fails here, before any reading
    run = _Ingest(rels, workdir, price_rows, _workers(sizes))
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        with tqdm(total=sum(sizes), unit="B", unit_scale=True, unit_divisor=1024, desc="ingest",
                  disable=None, leave=False) as bar:
            for i, path in enumerate(files):
                done = 0

                def progress(n: int) -> None:
                    nonlocal done
                    done += n
                    bar.update(n)

                try:
                    _read_file(run, i, path, sources, progress)
                except FileRefused as e:
                    run.refuse(i, e)
                if sizes[i] > done:
                    bar.update(sizes[i] - done)
            run.finish()
        calls_tmp = workdir / "calls.parquet"
        write_sorted_calls(run.parts, run.drops, calls_tmp, workdir, max(jsonl.CHUNK_ROWS, 1), run.bounds)
        os.replace(calls_tmp, eng.artifacts.path("calls"))
        os.replace(run.quarantine, eng.artifacts.path("quarantine"))
    finally:
        if gc_was_on:
            gc.enable()
        run.close()
        shutil.rmtree(workdir, ignore_errors=True)
    stats = run.stats
    totals = {"read": sum(f.read for f in stats), "accepted": sum(f.accepted for f in stats),
              "quarantined": sum(f.quarantined for f in stats), "files": len(stats),
              "refused_files": sum(1 for f in stats if f.refused)}
    return IngestReport(files=stats, reasons=dict(sorted(run.reasons.items())), totals=totals,
                        unpriced_models=sorted(run.unpriced))


def ingest(eng: Engagement, force: bool = False) -> StepResult[IngestReport]:
    """Read every file under data/raw/ into calls.parquet, quarantine.jsonl and ingest_report.json.

    Skipped (the previous report is returned) when the raw files and the settings ingest reads (sources,
    prices, currency) are unchanged; editing another section of engagement.yaml does not redo it.
    """
    files = eng.raw_files()
    if not files:
        raise FdeError(f"{eng.raw_dir}: no log files. Copy the customer's logs there "
                       "(or create the engagement with `fde new NAME --logs DIR`) and run again.")
    for i, source in enumerate(eng.config.sources):
        check_mapping(source, i)
    params = {"ingest_version": INGEST_VERSION, "max_latency_ms": MAX_LATENCY_MS,
              **eng.config.model_dump(mode="json", include={"sources", "prices", "currency"})}

    def make(out: StepOutputs) -> IngestReport:
        report = _run(eng, files)
        out.add(eng.artifacts.path("calls"))
        out.add(eng.artifacts.path("quarantine"))
        out.write("ingest_report", report.to_dict(), indent=2)
        out.summary = dict(report.totals)
        return report

    def previous() -> IngestReport:
        try:
            return IngestReport.from_dict(eng.artifacts.read("ingest_report"))
        except (TypeError, AttributeError):
            raise FdeError(f"{eng.display(eng.artifacts.path('ingest_report'))}: unreadable. "
                           f"Run `fde ingest --force {eng.display_root}` to rebuild it.") from None

    return run_step(eng, "ingest", inputs=files, params=params, make=make, previous=previous,
                    render=IngestReport.render, force=force)
