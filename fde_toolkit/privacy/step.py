"""The `scrub` step of an engagement: calls.parquet in, curated data and the PII report out.

    report = scrub(Engagement.load("engagements/acme"))   # what `fde scrub` runs
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import polars as pl

from fde_toolkit.privacy.config import PiiConfig, parse_pii_config
from fde_toolkit.privacy.curation import curate_calls
from fde_toolkit.privacy.pseudonym import key_id, load_key
from fde_toolkit.privacy.vault import write_vault

if TYPE_CHECKING:
    from fde_toolkit.engagement import Engagement


def load_config(eng: "Engagement") -> PiiConfig:
    """The engagement's validated `pii:` settings."""
    return parse_pii_config(eng.config.pii, source=str(eng.root / "engagement.yaml"))


def _write_parquet(df: pl.DataFrame, path: os.PathLike) -> None:
    tmp = f"{path}.tmp"
    df.write_parquet(tmp)
    os.replace(tmp, path)


def scrub(eng: "Engagement", force: bool = False) -> dict[str, Any]:
    """`fde scrub`: artifacts/calls.parquet -> curated.parquet (+ restricted.parquet, pii_vault.enc) and
    pii_report.json. Skipped, returning the previous report with `skipped: True`, when the calls, the
    `pii:` settings and the key did not change."""
    calls_path = eng.require("calls.parquet", made_by="ingest")
    config = load_config(eng)
    key = load_key(eng.root, config.key_file)
    params = {"pii": config.fingerprint(), "key_id": key_id(key)}
    inputs = [calls_path]
    report_path = eng.artifact("pii_report.json")
    with eng.step("scrub", inputs, params, force=force) as run:
        if run.skip:
            report = json.loads(report_path.read_text(encoding="utf-8"))
            report["skipped"] = True
            return report
        result = curate_calls(pl.read_parquet(calls_path), config, key)
        curated_path = eng.artifact("curated.parquet")
        _write_parquet(result.curated, curated_path)
        outputs = [curated_path]
        restricted_path = eng.artifact("restricted.parquet")
        if result.restricted is not None:
            _write_parquet(result.restricted, restricted_path)
            outputs.append(restricted_path)
        elif restricted_path.exists():  # a stale partition from an earlier configuration
            restricted_path.unlink()
        if config.vault:
            outputs.append(write_vault(eng.artifact("pii_vault.enc"), result.vault, key))
        tmp = report_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(result.report, indent=2), encoding="utf-8")
        os.replace(tmp, report_path)
        outputs.append(report_path)
        run.outputs = outputs
        run.summary = {**result.report["records"], "entities": result.report["entities"]["total"]}
    return result.report
