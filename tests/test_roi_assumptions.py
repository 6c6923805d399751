"""The `roi:` section: every invalid assumption gets an FdeError that names the field."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from roi_synthetic import ROI_FIXED

from fde_toolkit import FdeError
from fde_toolkit.roi.assumptions import CATALOGUE, parse_roi_settings


def settings_with(**changes):
    a = copy.deepcopy(ROI_FIXED)
    for k, v in changes.items():
        if v is None:
            a.pop(k, None)
        else:
            a[k] = v
    return {"assumptions": a}


def error(section) -> str:
    with pytest.raises(FdeError) as e:
        parse_roi_settings(section, where="acme/engagement.yaml")
    msg = str(e.value)
    assert msg.startswith("acme/engagement.yaml: the `roi:` section is not valid")
    assert "Traceback" not in msg
    return msg


def test_valid_section_fills_flagged_defaults():
    s = parse_roi_settings(settings_with())
    assert s.horizon_years == 3 and s.monte_carlo.samples == 2000
    assert set(s.assumptions) == set(CATALOGUE)
    d = s.assumptions["discount_rate"]
    assert (d.low, d.likely, d.high) == (0.10, 0.10, 0.10) and d.flagged and d.source.startswith("default")
    assert s.assumptions["routing_offload_share"].flagged
    fee = s.assumptions["engagement_fee_usd"]
    assert (fee.low, fee.likely, fee.high, fee.flagged) == (40000, 40000, 40000, False)
    rate = s.assumptions["loaded_hourly_rate_usd"]
    assert (rate.low, rate.likely, rate.high) == (40, 50, 60) and rate.varies


def test_missing_required_assumption():
    msg = error(settings_with(engagement_fee_usd=None, loaded_hourly_rate_usd=None))
    assert "roi.assumptions.engagement_fee_usd: missing" in msg
    assert "roi.assumptions.loaded_hourly_rate_usd: missing" in msg  # every problem at once


def test_missing_section_names_every_required_figure():
    msg = error({})
    for name in ("engagement_fee_usd", "integration_usd", "loaded_hourly_rate_usd", "handling_minutes_per_case",
                 "annual_upkeep_usd", "additional_task_usd"):
        assert f"roi.assumptions.{name}: missing" in msg


def test_negative_value():
    msg = error(settings_with(integration_usd={"unit": "usd", "low": -5, "likely": 10, "high": 20, "source": "IT"}))
    assert "roi.assumptions.integration_usd.low: -5 is negative" in msg


def test_wrong_unit():
    msg = error(settings_with(loaded_hourly_rate_usd={"unit": "usd", "value": 50, "source": "HR"}))
    assert "roi.assumptions.loaded_hourly_rate_usd.unit: 'usd' is the wrong unit" in msg
    assert "usd_per_hour" in msg


def test_unit_aliases_are_accepted():
    s = parse_roi_settings(settings_with(loaded_hourly_rate_usd={"unit": "USD/hour", "value": 50, "source": "HR"}))
    assert s.assumptions["loaded_hourly_rate_usd"].unit == "usd_per_hour"


def test_low_above_high():
    msg = error(settings_with(annual_upkeep_usd={"unit": "usd", "low": 30000, "likely": 20000, "high": 25000,
                                                 "source": "FDE"}))
    assert "roi.assumptions.annual_upkeep_usd.low: 30000 is above likely (20000)" in msg
    msg = error(settings_with(annual_upkeep_usd={"unit": "usd", "low": 1000, "likely": 20000, "high": 15000,
                                                 "source": "FDE"}))
    assert "roi.assumptions.annual_upkeep_usd.high: 15000 is below likely (20000)" in msg


def test_share_above_one():
    msg = error(settings_with(rework_share={"unit": "share", "low": 0.1, "likely": 0.5, "high": 1.4, "source": "QA"}))
    assert "roi.assumptions.rework_share.high: 1.4 is above 1" in msg and "0.25 = 25%" in msg


def test_zero_where_it_divides():
    msg = error(settings_with(logged_share_of_traffic={"unit": "share", "value": 0, "source": "platform team"}))
    assert "roi.assumptions.logged_share_of_traffic.value: must be above 0" in msg


def test_missing_source_unit_and_range_ends():
    msg = error(settings_with(rework_minutes={"unit": "minutes", "low": 1, "likely": 2, "high": 3}))
    assert "roi.assumptions.rework_minutes.source: missing" in msg
    msg = error(settings_with(rework_minutes={"low": 1, "likely": 2, "high": 3, "source": "ops"}))
    assert "roi.assumptions.rework_minutes.unit: missing" in msg
    msg = error(settings_with(rework_minutes={"unit": "minutes", "low": 1, "high": 3, "source": "ops"}))
    assert "roi.assumptions.rework_minutes.likely: missing" in msg
    msg = error(settings_with(rework_minutes={"unit": "minutes", "value": 2, "low": 1, "source": "ops"}))
    assert "roi.assumptions.rework_minutes: give either value" in msg


def test_unknown_assumption_and_settings_keys():
    msg = error(settings_with(rework_minuets={"unit": "minutes", "value": 2, "source": "ops"}))
    assert "roi.assumptions.rework_minuets: unknown assumption" in msg and "rework_minutes" in msg
    msg = error({**settings_with(), "horizon_years": 0})
    assert "roi.horizon_years" in msg
    msg = error({**settings_with(), "monte_carlo": {"samples": 2000, "distribution": "normal"}})
    assert "roi.monte_carlo.distribution" in msg
    msg = error({**settings_with(), "horizon": 3})
    assert "roi.horizon" in msg


@pytest.mark.parametrize("path", ["engagements/demo/engagement.yaml", "fde_toolkit/templates/engagement.yaml"])
def test_shipped_sections_are_valid(path):
    root = Path(__file__).resolve().parent.parent
    text = (root / path).read_text(encoding="utf-8").replace("{{name}}", "x").replace("{{client}}", "X")
    section = yaml.safe_load(text).get("roi")
    assert section, f"{path} has no roi: section"
    s = parse_roi_settings(section, where=path)
    assert s.assumptions["engagement_fee_usd"].likely > 0
