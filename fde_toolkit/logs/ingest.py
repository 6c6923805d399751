"""S1 ingest: every file under data/raw/ into artifacts/calls.parquet; bad records into quarantine.jsonl.

    report = ingest(Engagement.load("engagements/acme")).data     # or eng.ingest()
    print(report.render())

Files are streamed in chunks of about jsonl.CHUNK_BYTES (small files share a chunk; at most
jsonl.CHUNK_ROWS records are Python objects at once). Each chunk is parsed (orjson and one tight
extraction function per format), validated with polars expressions, priced and written as a sorted
part file; when the logs are big (workers.PARALLEL_MIN_BYTES) and cores are idle, worker processes do
this for the JSON-lines chunks. Chunks are taken back in reading order to de-duplicate call_id across
the whole ingest (first occurrence wins; only ids are kept), and the parts are merged into
calls.parquet sorted by timestamp and call_id in bounded memory. The artifacts do not depend on the
number of workers. Every record read ends up accepted or in quarantine, with its file, line and
reason: per file, accepted + quarantined == read.

A refused file (empty, unknown format, unreadable, no usable column mapping) counts as ONE record
read and one quarantined, with line null; when a file breaks off after some records (corrupt gzip,
CSV parse error), the records before count as read and the rest counts as that one more record.

This module is the step; the work lives beside it in fde_toolkit/logs/:
    reading.py      each file, in order, into chunks; de-duplication; quarantine.jsonl; counts
    chunks.py       one chunk: parse, validate, price, write a sorted part file
    validation.py   the record checks and quarantine reasons
    workers.py      the worker processes and how many to start (idle cores)
    merge.py        the external sort of the part files into calls.parquet
    report.py       IngestReport (ingest_report.json) and its rendering
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from pathlib import Path

from tqdm import tqdm

from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement
from fde_toolkit.step import StepOutputs, StepResult, run_step
from fde_toolkit.logs import jsonl, merge, workers
from fde_toolkit.logs.chunks import price_table
from fde_toolkit.logs.jsonl import FileRefused
from fde_toolkit.logs.reading import IngestRun, read_file
from fde_toolkit.logs.report import FileRow, IngestReport
from fde_toolkit.logs.schema import MAX_LATENCY_MS
from fde_toolkit.logs.tabular import check_mapping

__all__ = ["INGEST_VERSION", "FileRow", "IngestReport", "ingest"]

# Bump when readers or validation change what lands in calls.parquet, so a re-run is not skipped.
INGEST_VERSION = 1


def _run(eng: Engagement, files: list[Path]) -> IngestReport:
    prefix = str(eng.raw_dir) + os.sep
    rels = [str(p)[len(prefix):].replace(os.sep, "/") if str(p).startswith(prefix)
            else p.relative_to(eng.raw_dir).as_posix() for p in files]
    eng.artifacts_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix=".ingest-", dir=eng.artifacts_dir))
    sizes = [p.stat().st_size for p in files]
    sources = eng.config.sources
    price_rows = list(eng.config.prices)
    price_table(price_rows)  # a bad price row fails here, before any reading
    run = IngestRun(rels, workdir, price_rows, workers.worker_count(sizes))
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
                    read_file(run, i, path, sources, progress)
                except FileRefused as e:
                    run.refuse(i, e)
                if sizes[i] > done:
                    bar.update(sizes[i] - done)
            run.finish()
        calls_tmp = workdir / "calls.parquet"
        merge.write_sorted_calls(run.parts, run.drops, calls_tmp, workdir, max(jsonl.CHUNK_ROWS, 1), run.bounds)
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
