"""S1 ingest's merge: the sorted part files of accepted calls -> calls.parquet, sorted by (timestamp, call_id).

    write_sorted_calls(parts, drops, out, workdir, bucket_rows, bounds)

An external sort in bounded memory: parts already in order are streamed straight through; otherwise
rows are spilled into buckets of global rank and each bucket is sorted on its own.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from fde_toolkit.logs.schema import CALL_SCHEMA, empty_calls


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
