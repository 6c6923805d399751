"""The price table: USD per million tokens by model-name pattern, and filling in missing costs.

    table = PriceTable.load(eng.config.prices)     # engagement rows first, then the built-in table
    calls = table.apply(calls)                     # cost_usd filled where it was not logged
    table.unpriced(calls)                          # models still without a cost, to flag

The built-in table is data (fde_toolkit/data/prices.yaml). A row's `pattern` is a regular
expression matched case-insensitively (re.search) against the logged model name; the first
matching row wins. A logged cost is always kept; a model that matches no row stays null, never 0.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, TypeVar

import polars as pl
import yaml
from pydantic import ValidationError

from fde_toolkit import FdeError, assets, format_errors
from fde_toolkit.engagement import PriceRow

BUILTIN_PRICES = assets.path("data", "prices.yaml")

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)

_TOKENS_PER_PRICE_UNIT = 1_000_000.0


def _row_errors(where: str, index: int, err: ValidationError) -> str:
    return format_errors(f"{where}: price row {index} is not valid:", err.errors(),
                         "Fix these keys and run again.", prefix=f"prices[{index}]")


def _compile(where: str, index: int, pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as e:
        raise FdeError(f"{where}: prices[{index}].pattern is not a valid regular expression ({e}). "
                       f"Fix the pattern, e.g. escape literal dots and brackets with a backslash.") from None


class PriceTable:
    """An ordered list of price rows; the first row whose pattern matches a model name prices it."""

    def __init__(self, rows: list[PriceRow], origins: list[str] | None = None,
                 compiled: list[re.Pattern[str]] | None = None):
        self.rows = list(rows)
        self.origins = list(origins) if origins is not None else ["engagement"] * len(self.rows)
        self._patterns = compiled if compiled is not None else [
            _compile("price table", i, r.pattern) for i, r in enumerate(self.rows)]
        self._cache: dict[str, int | None] = {}

    # ------------------------------------------------------------------ building
    @classmethod
    def load(cls, extra_rows: list[PriceRow] | None = None, path: Path | None = None) -> "PriceTable":
        """The built-in table (or the YAML at `path`), with `extra_rows` (engagement.yaml `prices:`)
        checked first. Errors name the file, the row index and the field."""
        rows: list[PriceRow] = []
        origins: list[str] = []
        compiled: list[re.Pattern[str]] = []
        for i, r in enumerate(extra_rows or []):
            if not isinstance(r, PriceRow):
                try:
                    r = PriceRow.model_validate(r)
                except ValidationError as e:
                    raise FdeError(_row_errors("engagement.yaml", i, e)) from None
            compiled.append(_compile("engagement.yaml", i, r.pattern))
            rows.append(r)
            origins.append("engagement")
        builtin = Path(path) if path is not None else BUILTIN_PRICES
        for i, r in enumerate(cls._read_yaml(builtin)):
            compiled.append(_compile(str(builtin), i, r.pattern))
            rows.append(r)
            origins.append("built-in")
        return cls(rows, origins, compiled)

    @staticmethod
    def _read_yaml(path: Path) -> list[PriceRow]:
        if not path.is_file():
            raise FdeError(f"{path}: price table not found. Reinstall fde-toolkit or pass the path of a prices.yaml.")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise FdeError(f"{path}:{where}: not valid YAML ({getattr(e, 'problem', 'parse error')}).") from None
        items = raw.get("prices") if isinstance(raw, dict) else None
        if not isinstance(items, list):
            raise FdeError(f"{path}: expected a top-level `prices:` list of rows.")
        out = []
        for i, item in enumerate(items):
            try:
                out.append(PriceRow.model_validate(item))
            except ValidationError as e:
                raise FdeError(_row_errors(str(path), i, e)) from None
        return out

    # ------------------------------------------------------------------ lookup
    def _index_for(self, model: str) -> int | None:
        try:
            return self._cache[model]
        except KeyError:
            pass
        name = model.strip()
        found = next((i for i, p in enumerate(self._patterns) if p.search(name)), None)
        self._cache[model] = found
        return found

    def price_for(self, model: str | None) -> PriceRow | None:
        """The first row whose pattern matches `model`, or None."""
        if model is None:
            return None
        i = self._index_for(model)
        return None if i is None else self.rows[i]

    def _rates(self, models: Iterable[str | None]) -> tuple[list[str], list[float], list[float]]:
        names, inp, out = [], [], []
        for m in models:
            row = self.price_for(m)
            if row is not None:
                names.append(m)
                inp.append(row.input_per_mtok)
                out.append(row.output_per_mtok)
        return names, inp, out

    # ------------------------------------------------------------------ frames
    @staticmethod
    def _distinct_models(calls: pl.DataFrame | pl.LazyFrame) -> list[str | None]:
        sel = calls.select(pl.col("model").cast(pl.String).unique())
        if isinstance(sel, pl.LazyFrame):
            sel = sel.collect()
        return sel.get_column("model").to_list()

    def apply(self, calls: Frame) -> Frame:
        """Fill `cost_usd` where it is null from input/output tokens and the matching row.

        A logged cost is kept. A model matching no row, or a call missing a token count, keeps a
        null cost (never 0). Each distinct model name is matched once; the per-row work is a
        polars lookup, so a LazyFrame stays lazy apart from reading its distinct model names.
        """
        if not isinstance(calls, (pl.DataFrame, pl.LazyFrame)):
            raise TypeError(f"apply expects a polars DataFrame or LazyFrame, got {type(calls).__name__}")
        cols = calls.collect_schema().names()
        missing = [c for c in ("model", "input_tokens", "output_tokens") if c not in cols]
        if missing:
            raise FdeError(f"cannot price calls: column(s) {', '.join(missing)} missing from the call table.")
        names, inp, out = self._rates(self._distinct_models(calls))
        logged = pl.col("cost_usd").cast(pl.Float64) if "cost_usd" in cols else pl.lit(None, dtype=pl.Float64)
        if not names:
            return calls.with_columns(logged.alias("cost_usd"))
        model = pl.col("model").cast(pl.String)
        in_rate = model.replace_strict(names, inp, default=None, return_dtype=pl.Float64)
        out_rate = model.replace_strict(names, out, default=None, return_dtype=pl.Float64)
        computed = (pl.col("input_tokens").cast(pl.Float64) * in_rate
                    + pl.col("output_tokens").cast(pl.Float64) * out_rate) / _TOKENS_PER_PRICE_UNIT
        return calls.with_columns(pl.coalesce(logged, computed).alias("cost_usd"))

    def unpriced(self, calls: pl.DataFrame | pl.LazyFrame) -> list[str]:
        """Distinct model names (sorted) that have calls with no cost after `apply` and match no row."""
        priced = self.apply(calls)
        missing = priced.filter(pl.col("cost_usd").is_null() & pl.col("model").is_not_null()).select(
            pl.col("model").cast(pl.String).unique())
        if isinstance(missing, pl.LazyFrame):
            missing = missing.collect()
        return sorted(m for m in missing.get_column("model").to_list() if self.price_for(m) is None)

    def to_frame(self) -> pl.DataFrame:
        """The table in match order, for reports."""
        return pl.DataFrame(
            [{"order": i, "origin": o, **r.model_dump()} for i, (r, o) in enumerate(zip(self.rows, self.origins))],
            schema={"order": pl.Int64, "origin": pl.String, "pattern": pl.String, "input_per_mtok": pl.Float64,
                    "output_per_mtok": pl.Float64, "cached_input_per_mtok": pl.Float64, "provider": pl.String,
                    "effective_date": pl.String, "source": pl.String},
        ).select("order", "origin", "provider", "pattern", "input_per_mtok", "output_per_mtok",
                 "cached_input_per_mtok", "effective_date", "source")

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        n_eng = sum(o == "engagement" for o in self.origins)
        return f"PriceTable({len(self.rows)} rows, {n_eng} from the engagement)"

