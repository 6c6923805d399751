"""The `scrub` step of an engagement: calls.parquet in, curated data and the PII report out.

    result = scrub(open_engagement("engagements/acme"))   # what `fde scrub` runs; result.data: the report
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from fde_toolkit.privacy.curation import curate_calls
from fde_toolkit.privacy.pseudonym import key_id, load_key
from fde_toolkit.privacy.views import render_report
from fde_toolkit.privacy.vault import write_vault
from fde_toolkit.step import StepOutputs, StepResult, run_step

if TYPE_CHECKING:
    from fde_toolkit.engagement import Engagement


def scrub(eng: "Engagement", force: bool = False) -> StepResult[dict[str, Any]]:
    """`fde scrub`: artifacts/calls.parquet -> curated.parquet (+ restricted.parquet, pii_vault.enc) and
    pii_report.json. Skipped when the calls, the `pii:` settings and the key did not change."""
    arts = eng.artifacts
    calls_path = arts.require("calls")
    config = eng.config.pii
    key = load_key(eng.root, config.key_file)
    params = {"pii": config.fingerprint(), "key_id": key_id(key)}

    def make(out: StepOutputs) -> dict[str, Any]:
        result = curate_calls(pl.read_parquet(calls_path), config, key)
        out.write("curated", result.curated)
        if result.restricted is not None:
            out.write("restricted", result.restricted)
        elif arts.exists("restricted"):  # a stale partition from an earlier configuration
            arts.path("restricted").unlink()
        if config.vault:
            out.add(write_vault(arts.path("pii_vault"), result.vault, key))
        out.summary = {**result.report["records"], "entities": result.report["entities"]["total"]}
        return out.write_data("pii_report", result.report, indent=2)

    return run_step(eng, "scrub", inputs=[calls_path], params=params, make=make,
                    previous=lambda: arts.read("pii_report"), render=render_report, force=force)
