"""The `roi:` section of engagement.yaml: settings and named assumptions, validated.

Every assumption has a name, a unit, a source and a low / likely / high range:

    roi:
      horizon_years: 3
      assumptions:
        loaded_hourly_rate_usd: {unit: usd_per_hour, low: 38, likely: 45, high: 55,
                                 source: "Northwind HR: claims handler, fully loaded"}
        engagement_fee_usd: {unit: usd, value: 60000, source: "statement of work"}   # value = a fixed figure

    settings = roi_settings(eng)            # RoiSettings; FdeError naming the field when invalid
    settings.assumptions["rework_share"]    # Assumption(name, unit, low, likely, high, source, ...)

Figures only the client can give (labour rate, fees, handling time, upkeep) are required. The others
have a built-in range whose source says it is a default to replace (`flagged`), or they are taken
over by a measurement once a later phase writes it (routing offload share, latency under load).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fde_toolkit import FdeError, invalid_section

UNITS = {
    "share": "a share between 0 and 1 (0.25 = 25%)",
    "rate_per_year": "a yearly rate between 0 and 1 (0.10 = 10% a year)",
    "factor": "a multiplier (1 = unchanged)",
    "count": "a number of things",
    "usd": "US dollars",
    "usd_per_hour": "US dollars per hour",
    "minutes": "minutes",
    "months": "months",
}
UNIT_ALIASES = {"%": "share", "fraction": "share", "ratio": "factor", "x": "factor", "$": "usd", "dollars": "usd",
                "usd/hour": "usd_per_hour", "usd/h": "usd_per_hour", "$/h": "usd_per_hour", "$/hour": "usd_per_hour",
                "min": "minutes", "minute": "minutes", "month": "months", "number": "count",
                "per_year": "rate_per_year", "rate": "rate_per_year"}

DEFAULT_SOURCE = "default — replace with the client's figure"


@dataclass(frozen=True)
class Spec:
    """What the toolkit knows about one assumption."""

    unit: str
    description: str
    default: tuple[float, float, float] | None = None  # None: the engagement must give it
    default_source: str = DEFAULT_SOURCE
    positive: bool = False  # must be above 0 (it divides)
    measured_by: str | None = None  # the artifact that replaces it once a later phase measures it
    used_for: str = ""


CATALOGUE: dict[str, Spec] = {
    "logged_share_of_traffic": Spec(
        "share", "Share of the production traffic the logs cover; volumes are scaled up by 1/share "
        "(1 = the logs hold every call).", (1.0, 1.0, 1.0),
        "default — the logs are all the traffic; replace with the client's figure if they are a sample",
        positive=True, used_for="every monthly volume and spend"),
    "routing_offload_share": Spec(
        "share", "Share of a task's calls the SLM-first router lets the specialist answer (the rest is escalated "
        "to the LLM); never more than agreement / routing_quality_target, the most it can keep and still hold "
        "the quality target.", (0.6, 0.8, 0.9),
        "default — replace with the routing calibration once it is measured",
        measured_by="<task>.offload_share (routing calibration)", used_for="LLM spend avoided, escalations, latency"),
    "routing_quality_target": Spec(
        "share", "Agreement with the LLM the router holds on the answers it lets the specialist keep (the quality "
        "target the client signs off).", (0.95, 0.97, 0.99),
        "default — replace with the quality target the client signs off (routing calibration)", positive=True,
        measured_by="<task>.kept_quality (routing calibration)", used_for="offload cap, rework"),
    "latency_under_load_factor": Spec(
        "factor", "Serving latency under production load relative to the single-request latency measured "
        "in evaluation.", (1.0, 1.3, 2.0),
        "default — replace with the hardening benchmark once it is measured",
        positive=True, measured_by="<task>.slm_latency_under_load_ms (hardening benchmark)",
        used_for="latency after, hours saved"),
    "target_utilisation": Spec(
        "share", "Peak-hour load per serving instance as a share of its measured throughput; the rest is "
        "headroom for bursts.", (0.5, 0.6, 0.75), "default — engineering rule of thumb (60% busy at peak)",
        positive=True, used_for="serving instances and cost"),
    "min_instances_per_task": Spec(
        "count", "Serving instances kept running per specialist, even at low load.", (1.0, 1.0, 1.0),
        "default — one always-on instance per specialist", used_for="serving cost"),
    "loaded_hourly_rate_usd": Spec(
        "usd_per_hour", "Fully loaded cost of an hour of the people who wait on the assistant or fix its answers.",
        used_for="labour value of hours saved, rework cost"),
    "handling_minutes_per_case": Spec(
        "minutes", "A person's handling time per case today.", positive=True,
        used_for="hours saved as a share of handling time"),
    "critical_path_share": Spec(
        "share", "Share of the assistant's response time a person actually waits on (the rest overlaps "
        "other work or is a customer's wait).", (0.1, 0.3, 0.6), used_for="hours saved"),
    "rework_share": Spec(
        "share", "Share of the specialist's answers that differ from the LLM's that a person has to fix.",
        (0.05, 0.2, 0.5), used_for="rework hours"),
    "rework_minutes": Spec(
        "minutes", "Minutes a person spends fixing one such answer.", (1.0, 2.0, 5.0), used_for="rework hours"),
    "ramp_months": Spec(
        "months", "Months from go-live until every in-scope call goes through the specialists (linear ramp).",
        (1.0, 3.0, 6.0), positive=True, used_for="cash flow, payback, NPV"),
    "engagement_fee_usd": Spec("usd", "The engagement's fee (one-off).", used_for="one-off costs"),
    "integration_usd": Spec(
        "usd", "Client-side integration, one-off: router and serving set-up, testing, rollout.",
        used_for="one-off costs"),
    "training_hourly_usd": Spec(
        "usd_per_hour", "Hourly price of the hardware the production fine-tunes run on (times the measured "
        "training time).", (1.0, 2.5, 4.0), used_for="fine-tuning cost, retraining"),
    "retrains_per_year": Spec(
        "count", "Fine-tunes per specialist per year to follow drift in the requests (S6).", (2.0, 4.0, 12.0),
        used_for="yearly upkeep"),
    "annual_upkeep_usd": Spec(
        "usd", "People time per year to monitor, retrain and operate the specialists.", used_for="yearly upkeep"),
    "additional_task_usd": Spec(
        "usd", "One-off cost to bring one more task to production (the expanded scenario).",
        used_for="one-off costs of the expanded scenario"),
    "discount_rate": Spec(
        "rate_per_year", "Yearly discount rate of the net present value.", (0.10, 0.10, 0.10),
        "default — 10% a year; replace with the client's hurdle rate", used_for="NPV"),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssumptionEntry(_Strict):
    """One assumption as written in engagement.yaml: `value` for a fixed figure, or low/likely/high."""

    unit: str | None = None
    value: float | None = None
    low: float | None = None
    likely: float | None = None
    high: float | None = None
    source: str | None = None
    description: str | None = None


class MonteCarloSettings(_Strict):
    samples: int = Field(2000, ge=100, le=200_000)
    distribution: Literal["triangular", "pert"] = "triangular"
    seed: int | None = None  # None: the engagement's seed


class RetrainSettings(_Strict):
    """When a specialist is fine-tuned again (the S6 refinement plan)."""

    after_new_calls: int | None = Field(None, ge=1)  # None: no volume trigger (the schedule and drift decide)
    psi_threshold: float = Field(0.2, gt=0)  # input-mix drift (population stability index) that triggers it
    agreement_drop: float = Field(0.03, gt=0, lt=1)  # shadow agreement this far below the evaluation triggers it


class RoiSection(_Strict):
    horizon_years: int = Field(3, ge=1, le=10)
    expand_tasks: int = Field(3, ge=0, le=50)  # next candidate tasks in the expanded scenario
    monte_carlo: MonteCarloSettings = Field(default_factory=MonteCarloSettings)
    retrain: RetrainSettings = Field(default_factory=RetrainSettings)
    assumptions: dict[str, AssumptionEntry] = Field(default_factory=dict)


@dataclass(frozen=True)
class Assumption:
    """A validated assumption: its range and where the figure comes from."""

    name: str
    unit: str
    low: float
    likely: float
    high: float
    source: str
    description: str
    flagged: bool = False  # a default (or template) figure still to replace with the client's
    measured_by: str | None = None
    used_for: str = ""

    @property
    def varies(self) -> bool:
        return self.high > self.low

    def as_dict(self) -> dict[str, Any]:
        return {"unit": self.unit, "low": self.low, "likely": self.likely, "high": self.high, "source": self.source,
                "description": self.description, "flagged": self.flagged, "measured_by": self.measured_by,
                "used_for": self.used_for}


@dataclass
class RoiSettings:
    horizon_years: int
    expand_tasks: int
    monte_carlo: MonteCarloSettings
    retrain: RetrainSettings
    assumptions: dict[str, Assumption] = field(default_factory=dict)

    def params(self) -> dict[str, Any]:
        """What the manifest fingerprints."""
        return {"horizon_years": self.horizon_years, "expand_tasks": self.expand_tasks,
                "monte_carlo": self.monte_carlo.model_dump(mode="json"),
                "retrain": self.retrain.model_dump(mode="json"),
                "assumptions": {k: v.as_dict() for k, v in sorted(self.assumptions.items())}}


def is_flagged(source: str) -> bool:
    s = source.strip().lower()
    return s.startswith("default") or s.startswith("template") or "replace" in s


def _unit(raw: str) -> str:
    u = raw.strip().lower().replace(" ", "_")
    return UNIT_ALIASES.get(u, u)


def _check(name: str, entry: AssumptionEntry, spec: Spec) -> tuple[Assumption | None, list[str]]:
    key = f"roi.assumptions.{name}"
    errs: list[str] = []
    if entry.unit is None:
        errs.append(f"{key}.unit: missing; this assumption is in {spec.unit} ({UNITS[spec.unit]})")
    elif _unit(entry.unit) != spec.unit:
        errs.append(f"{key}.unit: '{entry.unit}' is the wrong unit; this assumption is in {spec.unit} "
                    f"({UNITS[spec.unit]}). Convert the figures and write unit: {spec.unit}")
    if not (entry.source or "").strip():
        errs.append(f"{key}.source: missing; say where the figure comes from "
                    "(e.g. \"client finance team, 2026 budget\")")
    if entry.value is not None:
        if any(v is not None for v in (entry.low, entry.likely, entry.high)):
            errs.append(f"{key}: give either value (a fixed figure) or low/likely/high, not both")
        lo = li = hi = entry.value
    else:
        missing = [k for k in ("low", "likely", "high") if getattr(entry, k) is None]
        if missing:
            errs.append(f"{key}.{missing[0]}: missing; give low, likely and high (or value for a fixed figure)")
            return None, errs
        lo, li, hi = entry.low, entry.likely, entry.high  # type: ignore[assignment]
    named = {"low": lo, "likely": li, "high": hi} if entry.value is None else {"value": lo}
    for k, v in named.items():
        if v < 0:
            errs.append(f"{key}.{k}: {v:g} is negative; {name} cannot be below 0")
        elif spec.positive and v == 0:
            errs.append(f"{key}.{k}: must be above 0 ({name} divides other figures)")
        if spec.unit in ("share", "rate_per_year") and v > 1:
            errs.append(f"{key}.{k}: {v:g} is above 1; {UNITS[spec.unit]}")
    if entry.value is None:
        if lo > li:
            errs.append(f"{key}.low: {lo:g} is above likely ({li:g}); order them low <= likely <= high")
        if li > hi:
            errs.append(f"{key}.high: {hi:g} is below likely ({li:g}); order them low <= likely <= high")
    if errs:
        return None, errs
    source = entry.source.strip()  # type: ignore[union-attr]
    return Assumption(name, spec.unit, float(lo), float(li), float(hi), source, entry.description or spec.description,
                      flagged=is_flagged(source), measured_by=spec.measured_by, used_for=spec.used_for), []


def parse_roi_settings(section: dict[str, Any] | None, where: str = "engagement.yaml") -> RoiSettings:
    """Validate a `roi:` mapping; one FdeError lists every problem, each naming its field."""
    try:
        raw = RoiSection.model_validate(section or {})
    except ValidationError as e:
        raise invalid_section(where, "roi", e,
                              "the comments of section roi in engagement.yaml (as `fde new` writes it)") from None
    errs: list[str] = []
    unknown = sorted(set(raw.assumptions) - set(CATALOGUE))
    for name in unknown:
        errs.append(f"roi.assumptions.{name}: unknown assumption; known ones: {', '.join(sorted(CATALOGUE))}")
    out: dict[str, Assumption] = {}
    for name, spec in CATALOGUE.items():
        entry = raw.assumptions.get(name)
        if entry is None:
            if spec.default is None:
                errs.append(f"roi.assumptions.{name}: missing; {spec.description} Only the client can give it "
                            f"(unit {spec.unit}; see the comments in engagement.yaml as `fde new` writes it)")
                continue
            lo, li, hi = spec.default
            out[name] = Assumption(name, spec.unit, lo, li, hi, spec.default_source, spec.description, flagged=True,
                                   measured_by=spec.measured_by, used_for=spec.used_for)
            continue
        a, e = _check(name, entry, spec)
        errs += e
        if a is not None:
            out[name] = a
    if errs:
        raise FdeError("\n".join([f"{where}: the `roi:` section is not valid:", *(f"  - {e}" for e in errs),
                                  "Fix these assumptions (see the comments of section roi in engagement.yaml "
                                  "as `fde new` writes it) and run again."]))
    return RoiSettings(raw.horizon_years, raw.expand_tasks, raw.monte_carlo, raw.retrain, out)


def roi_settings(eng) -> RoiSettings:
    """The engagement's validated `roi:` settings and assumptions."""
    return parse_roi_settings(eng.config.roi, where=str(eng.root / "engagement.yaml"))
