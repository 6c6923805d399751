"""Writers: the demo customer's log files, gzip JSONL from the gateway and OTLP JSON from the mobile backend."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson

from fde_toolkit.synth.otel import _OtelFile, _to_span
from fde_toolkit.synth.records import generate_demo_calls


def write_demo_logs(out_dir: str | Path, n_calls: int = 20_000, days: int = 30, seed: int = 7,
                    bad_records: bool = True, otel_share: float = 0.1) -> list[Path]:
    """Write the demo customer's logs under out_dir and return the files written, sorted.

    Layout: `gateway/YYYY-MM-DD.jsonl.gz` (the LLM gateway's OpenAI request/response pairs, one gzip
    JSONL file per UTC day; gzip level 1, mtime 0, no file name) and `otel/mobile-bff-YYYY-MM-DD.json`
    (about `otel_share` of the calls, from the mobile app's backend, as one OTLP JSON
    ExportTraceServiceRequest per day).
    Byte-identical for the same arguments. Ground truth is not written: see `demo_ground_truth`.
    """
    out = Path(out_dir)
    (out / "gateway").mkdir(parents=True, exist_ok=True)
    if otel_share > 0:
        (out / "otel").mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    gz_name, gz_raw, gz = None, None, None
    ot_name, ot = None, None
    try:
        for rec in generate_demo_calls(n_calls, days, seed, bad_records, otel_share):
            name = rec["_file"]
            if rec["_sink"] == "otel":
                if name != ot_name:
                    if ot is not None:
                        ot.close()
                    ot_name, ot = name, _OtelFile(out / name)
                    written.append(out / name)
                ot.add(_to_span(rec))
                continue
            if name != gz_name:
                if gz is not None:
                    gz.close()
                    gz_raw.close()
                gz_name = name
                gz_raw = open(out / name, "wb")
                gz = gzip.GzipFile(filename="", mode="wb", fileobj=gz_raw, mtime=0, compresslevel=1)
                written.append(out / name)
            if "_raw" in rec:
                gz.write(rec["_raw"] + b"\n")
            else:
                gz.write(orjson.dumps({k: v for k, v in rec.items() if k[0] != "_"}) + b"\n")
    finally:
        if gz is not None:
            gz.close()
            gz_raw.close()
        if ot is not None:
            ot.close()
    return sorted(written)
