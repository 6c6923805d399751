"""The engagement's `reports:` section: the client's name, logo and colours on every report and slide.

    brand = branding(eng)        # Branding(client="Acme", logo_data_uri="data:image/png;base64,...", ...)
    brand.css_vars()             # ":root{--fde-primary:#1F3A5F;--fde-accent:#E09F3E}"

engagement.yaml:

    reports:
      client_name: "Acme Insurance"    # on the title slide and report headers; default: `client:`
      logo: branding/logo.svg          # relative to the engagement folder; png, jpg, svg, gif or webp
      primary_color: "#1F3A5F"         # headings, rules, the title slide
      accent_color: "#E09F3E"          # highlights: key numbers, the ask
      footer: "Confidential: prepared for Acme Insurance"

The logo is embedded as a data URI, so the HTML stays a single file that works offline.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from fde_toolkit import FdeError, invalid_section

DEFAULT_PRIMARY = "#2F5D8C"  # viz.PALETTE[0]
DEFAULT_ACCENT = "#E09F3E"   # viz.PALETTE[1]
LOGO_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".svg": "image/svg+xml",
              ".gif": "image/gif", ".webp": "image/webp"}
MAX_LOGO_BYTES = 2_000_000  # embedded in every report and slide deck
HEX_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


class ReportsConfig(BaseModel):
    """engagement.yaml `reports:`; unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")

    client_name: str | None = None
    logo: str | None = None
    primary_color: str = DEFAULT_PRIMARY
    accent_color: str = DEFAULT_ACCENT
    footer: str | None = None

    @field_validator("primary_color", "accent_color")
    @classmethod
    def _hex(cls, v: str) -> str:
        if not isinstance(v, str) or not HEX_COLOR.match(v.strip()):
            raise ValueError(f"{v!r} is not a hex colour; write it like \"#2F5D8C\" (quoted in YAML)")
        return v.strip().upper()


@dataclass(frozen=True)
class Branding:
    """What the templates put on every page: name, logo (data URI or None), colours, footer line."""

    client: str
    primary: str = DEFAULT_PRIMARY
    accent: str = DEFAULT_ACCENT
    logo_data_uri: str | None = None
    footer: str | None = None
    logo_path: Path | None = None  # the file behind logo_data_uri (a report input: a new logo re-renders)

    def css_vars(self) -> str:
        return f":root{{--fde-primary:{self.primary};--fde-accent:{self.accent}}}"

    def resources(self) -> dict[str, Any]:
        """The dict the nbconvert templates read as resources['fde_brand']."""
        return {"client": self.client, "primary": self.primary, "accent": self.accent,
                "logo": self.logo_data_uri, "footer": self.footer, "css_vars": self.css_vars()}

    def logo_img(self, css_class: str = "fde-logo") -> str:
        if not self.logo_data_uri:
            return ""
        return f'<img class="{css_class}" src="{self.logo_data_uri}" alt="{html.escape(self.client)} logo">'


def parse_reports_config(section: dict[str, Any] | None, where: str = "engagement.yaml") -> ReportsConfig:
    """Validate a `reports:` mapping; errors name the key."""
    try:
        return ReportsConfig.model_validate(section or {})
    except ValidationError as e:
        raise invalid_section(where, "reports", e,
                              "the comments of section reports in engagement.yaml (as `fde new` writes it)") from None


def logo_data_uri(path: Path, where: str = "engagement.yaml") -> str:
    """The logo file as a data: URI; FdeError naming `reports.logo` and the file when it cannot be used."""
    kind = LOGO_TYPES.get(path.suffix.lower())
    if not path.is_file():
        raise FdeError(f"{where}: reports.logo points at {path}, which does not exist. Put the logo there "
                       "(the path is relative to the engagement folder) or remove `logo:`.")
    if kind is None:
        raise FdeError(f"{where}: reports.logo {path} is not an image the reports can embed; use one of "
                       f"{', '.join(sorted(LOGO_TYPES))}.")
    size = path.stat().st_size
    if size > MAX_LOGO_BYTES:
        raise FdeError(f"{where}: reports.logo {path} is {size / 1e6:.1f} MB; every report embeds it, so keep it "
                       f"under {MAX_LOGO_BYTES / 1e6:.0f} MB (an SVG or a PNG a few hundred pixels wide).")
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


def branding(eng) -> Branding:
    """The engagement's branding, validated, with the logo read and embedded."""
    where = str(eng.root / "engagement.yaml")
    cfg = eng.config.reports
    logo, path = None, None
    if cfg.logo:
        path = Path(cfg.logo).expanduser()
        path = path if path.is_absolute() else eng.root / path
        logo = logo_data_uri(path, where)
    return Branding(client=cfg.client_name or eng.config.client or eng.name, primary=cfg.primary_color,
                    accent=cfg.accent_color, logo_data_uri=logo, footer=cfg.footer, logo_path=path)
