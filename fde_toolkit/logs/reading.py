"""S1 ingest's reading: every raw file, in order, cut into chunks and taken back in order.

    run = IngestRun(rels, workdir, price_rows, workers)
    for i, path in enumerate(files):
        read_file(run, i, path, sources, progress)     # FileRefused: run.refuse(i, e)
    run.finish()    # run.parts / drops / bounds -> merge.write_sorted_calls; run.quarantine, stats, reasons

JSON-lines files are cut into segments of about jsonl.CHUNK_BYTES (small files share a chunk) that
worker processes parse when there is a pool, this process otherwise; OTLP documents and tabular files
are read here. Chunks are taken back in reading order, so call_id is de-duplicated across the whole
ingest (first occurrence wins; only ids are kept) and quarantine.jsonl is written in reading order.
"""

from __future__ import annotations

from collections import Counter, deque
from pathlib import Path
from typing import Any

import orjson
import polars as pl

from fde_toolkit.logs import jsonl, otel
from fde_toolkit.logs.chunks import JSON_READERS, Chunk, ChunkRows, Reject, Segment, accept_frame, parse_chunk
from fde_toolkit.logs.detect import EMPTY, csv_separator, sniff_format, source_for
from fde_toolkit.logs.jsonl import FileRefused, RecordError, iter_segments
from fde_toolkit.logs.report import FileRow
from fde_toolkit.logs.tabular import read_tabular
from fde_toolkit.logs.validation import DUPLICATE
from fde_toolkit.logs.workers import WorkerDied, WorkerPool


class IngestRun:
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
        self.pool: WorkerPool | None = None
        if workers > 1:
            try:
                self.pool = WorkerPool(workers, workdir)
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
                    chunk = WorkerPool.result(fut)
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
                    rejects.append((files[seq], lines[seq], DUPLICATE, f"call_id was first seen at {where}"))
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


def read_file(run: IngestRun, index: int, path: Path, sources: list, progress: Any) -> None:
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
    if fmt in JSON_READERS or (fmt == "otel" and otel.one_export_per_line(path)):
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
        sink = ChunkRows()
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
