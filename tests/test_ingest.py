"""S1 ingest: bad input and quarantine, counts that add up, determinism, re-run skip, scale and streaming."""

from __future__ import annotations

import gzip
import json
import random
import sys

import polars as pl
import yaml
import pytest

from fde_toolkit import FdeError
from fde_toolkit.engagement import Engagement
from fde_toolkit.logs import jsonl as jsonl_module
from fde_toolkit.logs import merge as merge_module
from fde_toolkit.logs import workers as workers_module
from fde_toolkit.logs.ingest import IngestReport, ingest
from fde_toolkit.logs.schema import CALL_SCHEMA, MAX_LATENCY_MS, QUARANTINE_SCHEMA

SECRET = "Jane Canary 4111-1111-1111-1111"  # record content that must never reach quarantine or the report


def assert_counts_add_up(eng, report, quarantine_rows) -> None:
    for f in report.files:
        assert f.accepted + f.quarantined == f.read, f
    t = report.totals
    assert t["accepted"] + t["quarantined"] == t["read"]
    assert t["read"] == sum(f.read for f in report.files)
    assert t["accepted"] == pl.read_parquet(eng.artifacts.path("calls")).height
    assert t["quarantined"] == len(quarantine_rows) == sum(report.reasons.values())
    per_file: dict[str, int] = {}
    for q in quarantine_rows:
        per_file[q["file"]] = per_file.get(q["file"], 0) + 1
    assert per_file == {f.file: f.quarantined for f in report.files if f.quarantined}


def test_every_bad_input_is_quarantined_with_file_line_and_reason(make_engagement, canonical_record, openai_pair,
                                                                  jsonl, quarantine):
    good = canonical_record(1, messages=[{"role": "user", "content": SECRET}])
    lines = [
        json.dumps(good),                                                    # 1 ok
        '{"call_id": "c2", "timestamp": ',                                   # 2 invalid JSON
        json.dumps(canonical_record(3, model=None)),                         # 3 missing model
        json.dumps(canonical_record(4, input_tokens="abc")),                 # 4 wrong type
        json.dumps(canonical_record(5, messages=SECRET)),                    # 5 messages not a list
        json.dumps(canonical_record(6, latency_ms=-5)),                      # 6 negative latency
        json.dumps(canonical_record(7, latency_ms=MAX_LATENCY_MS * 10)),     # 7 absurd latency
        json.dumps(canonical_record(8, timestamp="yesterday")),              # 8 bad timestamp
        "",                                                                  # blank: not a record
        json.dumps(canonical_record(10, timestamp=None)),                    # 10 missing timestamp
        json.dumps([SECRET]),                                                # 11 not an object
    ]
    non_utf8 = b'{"call_id": "c12", "messages": [{"role": "user", "content": "caf\xe9 ' + SECRET.encode() + b'"}]}'
    truncated = json.dumps(canonical_record(13))[:40]
    data = ("\n".join(lines) + "\n").encode() + non_utf8 + b"\n" + truncated.encode()
    files = {
        "a/bad.jsonl": data,
        "a/dups.jsonl": jsonl([canonical_record(1), canonical_record(20), canonical_record(20)]),
        "b/empty.jsonl": b"",
        "b/mystery.bin": b"\x00\x01PK\x03\x04" + SECRET.encode(),
        "b/pairs.jsonl": jsonl([openai_pair(1), openai_pair(1)]),
    }
    eng = make_engagement(files)
    report = ingest(eng).data
    rows = quarantine(eng)
    assert_counts_add_up(eng, report, rows)
    got = {(q["file"], q["line"]): (q["reason"], q["detail"]) for q in rows}
    bad = "a/bad.jsonl"
    assert got[(bad, 2)][0] == "invalid JSON"
    assert got[(bad, 3)] == ("missing required field", "model is missing")
    assert got[(bad, 4)][0] == "wrong type" and "input_tokens" in got[(bad, 4)][1]
    assert got[(bad, 5)][0] == "wrong type" and "messages is text" in got[(bad, 5)][1]
    assert got[(bad, 6)] == ("invalid latency", "latency_ms is negative")
    assert got[(bad, 7)][0] == "invalid latency" and "above" in got[(bad, 7)][1]
    assert got[(bad, 8)][0] == "invalid timestamp"
    assert got[(bad, 10)] == ("missing required field", "timestamp is missing")
    assert got[(bad, 11)][0] == "wrong type"
    assert got[(bad, 12)][0] == "non-UTF-8 bytes"
    assert got[(bad, 13)][0] == "truncated last line"
    # duplicates: across files (c1 first seen in a/bad.jsonl:1) and within a file; first occurrence wins
    assert got[("a/dups.jsonl", 1)] == ("duplicate call_id", "call_id was first seen at a/bad.jsonl:1")
    assert got[("a/dups.jsonl", 3)] == ("duplicate call_id", "call_id was first seen at a/dups.jsonl:2")
    assert got[("b/pairs.jsonl", 2)] == ("duplicate call_id", "call_id was first seen at b/pairs.jsonl:1")
    assert got[("b/empty.jsonl", None)][0] == "empty file"
    assert got[("b/mystery.bin", None)][0] == "unknown format"
    files_by_name = {f.file: f for f in report.files}
    assert (files_by_name[bad].read, files_by_name[bad].accepted, files_by_name[bad].quarantined) == (12, 1, 11)
    assert files_by_name["b/empty.jsonl"].refused.startswith("empty file")
    assert (files_by_name["b/mystery.bin"].read, files_by_name["b/mystery.bin"].format) == (1, "unknown")
    assert report.reasons == {"duplicate call_id": 3, "empty file": 1, "invalid JSON": 1, "invalid latency": 2,
                              "invalid timestamp": 1, "missing required field": 2, "non-UTF-8 bytes": 1,
                              "truncated last line": 1, "unknown format": 1, "wrong type": 3}
    assert report.totals == {"read": 19, "accepted": 3, "quarantined": 16, "files": 5, "refused_files": 2}
    # quarantine rows have exactly the QUARANTINE_SCHEMA fields and no record contents
    assert all(list(q) == list(QUARANTINE_SCHEMA) for q in rows)
    qtext = eng.artifacts.path("quarantine").read_text()
    assert "Canary" not in qtext and "4111" not in qtext
    assert "Canary" not in eng.artifacts.path("ingest_report").read_text() and "Canary" not in report.render()
    assert pl.read_ndjson(eng.artifacts.path("quarantine"), schema=QUARANTINE_SCHEMA).height == 16


def test_corrupt_gzip_keeps_what_was_readable_and_counts_the_rest(make_engagement, canonical_record, jsonl,
                                                                   quarantine):
    whole = gzip.compress(jsonl([canonical_record(i) for i in range(200)]), mtime=0)
    eng = make_engagement({"cut.jsonl.gz": whole[: len(whole) * 2 // 3]})
    report = ingest(eng).data
    f = report.files[0]
    assert f.refused.startswith("unreadable file") and 0 < f.accepted < 200
    assert f.accepted + f.quarantined == f.read
    assert [q["reason"] for q in quarantine(eng)][-1] == "unreadable file"


def test_unreadable_csv_is_refused(make_engagement, quarantine):
    src = {"glob": "*.csv", "mapping": {"timestamp": "t", "model": "m", "prompt": "p"}}
    eng = make_engagement({"ragged.csv": "t,m,p\n2025-03-01,x,hi\n2025-03-01,x,hi,extra,fields\n"}, sources=[src])
    report = ingest(eng).data
    assert report.files[0].refused.startswith("unreadable file")
    assert (report.read, report.accepted, report.quarantined) == (1, 0, 1)
    assert quarantine(eng)[0]["line"] is None


def test_no_raw_files_is_an_error_that_says_what_to_do(make_engagement):
    eng = make_engagement({})
    with pytest.raises(FdeError, match="no log files"):
        ingest(eng)


def test_calls_sorted_deterministic_and_rerun_skipped(make_engagement, canonical_record, jsonl):
    recs = [canonical_record(i, timestamp=f"2025-03-0{1 + i % 3}T00:00:00Z") for i in range(30)]
    random.Random(1).shuffle(recs)
    eng = make_engagement({"x.jsonl": jsonl(recs[:15]), "y/z.jsonl": jsonl(recs[15:])})
    first = ingest(eng)
    assert not first.skipped and "up to date" not in str(first)
    out = eng.artifacts.path("calls")
    df = pl.read_parquet(out)
    assert df.height == 30 and dict(df.schema) == CALL_SCHEMA
    assert df.equals(df.sort(["timestamp", "call_id"]))
    bytes1 = out.read_bytes()
    again = ingest(eng)  # unchanged inputs: skipped, previous report returned
    assert again.skipped and "ingest: up to date" in str(again)
    assert again.data.to_dict() == first.data.to_dict()
    assert ingest(eng, force=True).data.to_dict() == first.data.to_dict()
    assert out.read_bytes() == bytes1  # the same inputs give the same bytes
    (eng.raw_dir / "x.jsonl").write_bytes(jsonl(recs[:14]))
    changed = ingest(eng)
    assert not changed.skipped and changed.data.accepted == 29
    saved = json.loads(eng.artifacts.path("ingest_report").read_text())
    assert set(saved) == {"files", "reasons", "totals", "unpriced_models"}
    assert set(saved["files"][0]) == {"file", "format", "read", "accepted", "quarantined", "refused"}
    assert IngestReport.from_dict(saved).to_dict() == saved
    assert eng.manifest.data["steps"]["ingest"]["summary"]["accepted"] == 29


def test_editing_other_sections_of_engagement_yaml_does_not_redo_ingest(make_engagement, canonical_record, jsonl):
    eng = make_engagement({"x.jsonl": jsonl([canonical_record(i) for i in range(5)])})
    ingest(eng)
    cfg_path = eng.root / "engagement.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["roi"] = {"horizon_years": 5}
    cfg_path.write_text(yaml.safe_dump(cfg))
    assert ingest(Engagement.load(eng.root)).skipped  # the ROI section is not an input of ingest
    cfg["prices"] = [{"pattern": "gpt-x*", "input_per_mtok": 1.0, "output_per_mtok": 2.0}]
    cfg_path.write_text(yaml.safe_dump(cfg))
    assert not ingest(Engagement.load(eng.root)).skipped  # prices are


def test_costs_from_the_price_table_and_unpriced_models(make_engagement, canonical_record, jsonl):
    recs = [canonical_record(1, model="acme-large", input_tokens=1_000_000, output_tokens=500_000),
            canonical_record(2, model="acme-large", cost_usd=0.25),
            canonical_record(3, model="mystery-model")]
    eng = make_engagement({"a.jsonl": jsonl(recs)},
                          prices=[{"pattern": "^acme-large$", "input_per_mtok": 2.0, "output_per_mtok": 8.0}])
    report = ingest(eng).data
    cost = dict(pl.read_parquet(eng.artifacts.path("calls")).select("call_id", "cost_usd").iter_rows())
    assert cost == {"c1": pytest.approx(6.0), "c2": 0.25, "c3": None}
    assert report.unpriced_models == ["mystery-model"]
    assert "mystery-model" in report.render()


def test_ten_thousand_small_files(make_engagement, canonical_record):
    files = {f"d{i % 100:02d}/f{i:05d}.jsonl": json.dumps(canonical_record(i)) + "\n" for i in range(10_000)}
    files["d00/f00000.jsonl"] += "{broken\n"
    eng = make_engagement(files)
    report = ingest(eng).data
    assert report.totals == {"read": 10_001, "accepted": 10_000, "quarantined": 1, "files": 10_000,
                             "refused_files": 0}
    text = report.render(top=5)
    assert "d00/f00000.jsonl" in text and "(9,995 more files)" in text and len(text.splitlines()) < 20
    assert pl.read_parquet(eng.artifacts.path("calls"), columns=["call_id"])["call_id"].n_unique() == 10_000


def _many_records(n: int, canonical_record, shuffled: bool) -> list[dict]:
    recs = [canonical_record(i, call_id=f"id{i:06d}", timestamp=1_740_000_000 + i,
                             messages=[{"role": "user", "content": "x" * (i % 50)}]) for i in range(n)]
    if shuffled:
        random.Random(7).shuffle(recs)
    return recs


@pytest.mark.parametrize("shuffled", [False, True])
def test_big_file_is_streamed_in_chunks(make_engagement, canonical_record, jsonl, monkeypatch, shuffled):
    # tiny chunks: many part files, bounded buckets when the log is out of order
    monkeypatch.setattr(jsonl_module, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(jsonl_module, "CHUNK_ROWS", 1000)
    n = 3000
    recs = _many_records(n, canonical_record, shuffled)
    recs.insert(1234, recs[10])  # a duplicate in a later chunk
    data = jsonl(recs)
    parts: list[int] = []
    real = merge_module.write_sorted_calls

    def spy(parts_, drops, out, workdir, bucket_rows, bounds):
        parts.append(len(parts_))
        assert bucket_rows == 1000
        return real(parts_, drops, out, workdir, bucket_rows, bounds)

    monkeypatch.setattr(merge_module, "write_sorted_calls", spy)
    eng = make_engagement({"big.jsonl.gz": gzip.compress(data, mtime=0)})
    report = ingest(eng).data
    assert parts[0] > 50  # it really went through many chunks
    assert (report.read, report.accepted, report.quarantined) == (n + 1, n, 1)
    df = pl.read_parquet(eng.artifacts.path("calls"))
    assert df["call_id"].to_list() == [f"id{i:06d}" for i in range(n)]
    assert df["timestamp"].is_sorted()
    # the first occurrence (line 11) won over its copy at line 1235
    first_source = df.filter(pl.col("call_id") == recs[10]["call_id"])["source"].item()
    assert first_source == "big.jsonl.gz:11"


def test_worker_processes_give_the_same_artifacts(make_engagement, canonical_record, jsonl, monkeypatch):
    monkeypatch.setattr(jsonl_module, "CHUNK_BYTES", 16384)
    recs = _many_records(1500, canonical_record, shuffled=True)
    files = {"a.jsonl": jsonl(recs[:600]), "b.jsonl": jsonl(recs[900:] + recs[:5]) + b"{bad\n",
             "c.jsonl.gz": gzip.compress(jsonl(recs[600:900]), mtime=0)}
    serial = make_engagement(files, name="serial")
    ingest(serial)
    monkeypatch.setattr(workers_module, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(workers_module.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(workers_module, "idle_cores", lambda cpus, interval=0.2: 2.0)
    started: list[int] = []
    real_init = workers_module.WorkerPool.__init__
    monkeypatch.setattr(workers_module.WorkerPool, "__init__",
                        lambda self, n, workdir: started.append(n) or real_init(self, n, workdir))
    parallel = make_engagement(files, name="parallel")
    report = ingest(parallel).data
    assert started == [2]
    assert (report.accepted, report.quarantined) == (1500, 6)
    for name in ("calls", "quarantine"):
        assert parallel.artifacts.path(name).read_bytes() == serial.artifacts.path(name).read_bytes()


def test_a_dead_worker_falls_back_to_this_process(make_engagement, canonical_record, jsonl, monkeypatch):
    monkeypatch.setattr(jsonl_module, "CHUNK_BYTES", 8192)
    monkeypatch.setattr(workers_module, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(workers_module, "idle_cores", lambda cpus, interval=0.2: 2.0)
    monkeypatch.setattr(workers_module, "worker_count", lambda sizes: 2)
    monkeypatch.setattr(workers_module.WorkerPool, "command", [sys.executable, "-c", "import sys; sys.exit(3)"])
    started: list[int] = []
    real_init = workers_module.WorkerPool.__init__
    monkeypatch.setattr(workers_module.WorkerPool, "__init__",
                        lambda self, n, workdir: started.append(n) or real_init(self, n, workdir))
    eng = make_engagement({"a.jsonl": jsonl(_many_records(400, canonical_record, shuffled=True))})
    report = ingest(eng).data
    assert started == [2]
    assert (report.read, report.accepted) == (400, 400)
    assert pl.read_parquet(eng.artifacts.path("calls"))["call_id"].is_sorted()


def test_worker_count_follows_idle_cores(monkeypatch):
    monkeypatch.setattr(workers_module, "PARALLEL_MIN_BYTES", 100)
    monkeypatch.setattr(workers_module.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(workers_module, "idle_cores", lambda cpus, interval=0.2: 1.9)
    assert workers_module.worker_count([50]) == 1  # small logs: this process
    assert workers_module.worker_count([500]) == 2
    monkeypatch.setattr(workers_module, "idle_cores", lambda cpus, interval=0.2: 0.7)
    assert workers_module.worker_count([500]) == 1  # a busy machine: no oversubscription
    assert 0.0 <= (workers_module.idle_cores([0], interval=0.01) or 0.0) <= 1.0
