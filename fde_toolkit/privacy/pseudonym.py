"""Consistent pseudonyms from a keyed HMAC, the key that makes them, and the other operators.

The same (entity type, normalised value) always gives the same placeholder, `<EMAIL_7f3a9c01b2e4>`:
12 hex characters of HMAC-SHA256, so a collision among a million values of one type has a
probability of about 0.2% (48 bits; 8 characters would give ~100 expected collisions). The key
never has a default: it comes from the file `pii.key_file` names or from $FDE_PII_KEY.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
from pathlib import Path
from typing import Mapping

from fde_toolkit import FdeError
from fde_toolkit.privacy.config import PiiConfig

KEY_ENV = "FDE_PII_KEY"
MIN_KEY_BYTES = 16
HEX_CHARS = 12
MASKED_TAIL = {"CARD", "IBAN", "SSN", "PHONE"}  # mask keeps the last 4 characters of these
PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*_[0-9a-f]{%d}>" % HEX_CHARS)

_HOW_TO_CREATE = (
    'mkdir -p {root}/.secrets && python -c "import secrets; print(secrets.token_hex(32))" '
    "> {root}/.secrets/pii.key"
)


def _missing_key_message(root: Path | None) -> str:
    where = str(root) if root is not None else "engagements/<name>"
    return (
        f"No PII key: the pseudonyms need a secret key, and there is no built-in default.\n"
        f"Either set the environment variable {KEY_ENV} (hex, base64 or a passphrase of at least "
        f"{MIN_KEY_BYTES} bytes), or point `pii: key_file:` in {where}/engagement.yaml at a key file "
        f"(relative to the engagement folder). Create one with:\n"
        f"  {_HOW_TO_CREATE.format(root=where)}\n"
        f"and set `key_file: .secrets/pii.key` under `pii:`. Keep the key out of version control and keep it: "
        f"the same key gives the same placeholders on the next batch of logs."
    )


def parse_key(text: str | bytes, where: str) -> bytes:
    """Key bytes from hex, base64, or a raw passphrase; at least 16 bytes."""
    raw = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
    s = raw.strip()
    key: bytes | None = None
    if re.fullmatch(r"[0-9a-fA-F]+", s) and len(s) % 2 == 0 and len(s) >= 2 * MIN_KEY_BYTES:
        key = bytes.fromhex(s)
    elif re.fullmatch(r"[A-Za-z0-9+/_-]+={0,2}", s) and len(s) % 4 == 0 and len(s) >= 24:
        try:
            decoded = base64.b64decode(s.replace("-", "+").replace("_", "/"), validate=True)
            key = decoded if len(decoded) >= MIN_KEY_BYTES else None
        except (binascii.Error, ValueError):
            key = None
    if key is None:
        key = s.encode("utf-8")
    if len(key) < MIN_KEY_BYTES:
        raise FdeError(f"{where}: the PII key is too short ({len(key)} bytes; at least {MIN_KEY_BYTES} needed). "
                       f'Make a new one with: python -c "import secrets; print(secrets.token_hex(32))"')
    return key


def load_key(root: str | os.PathLike | None = None, key_file: str | None = None,
             environ: Mapping[str, str] | None = None) -> bytes:
    """The HMAC key: the engagement's `pii.key_file` (relative to `root`) if set, else $FDE_PII_KEY.

    A key file that is configured but missing is an error (never a silent fallback to the environment).
    """
    env = os.environ if environ is None else environ
    root_path = Path(root) if root is not None else None
    if key_file:
        path = Path(key_file).expanduser()
        if not path.is_absolute() and root_path is not None:
            path = root_path / path
        if not path.is_file():
            raise FdeError(f"{path}: the PII key file named by pii.key_file does not exist.\n"
                           + _missing_key_message(root_path))
        return parse_key(path.read_bytes(), str(path))
    value = env.get(KEY_ENV)
    if value:
        return parse_key(value, f"${KEY_ENV}")
    raise FdeError(_missing_key_message(root_path))


def key_id(key: bytes) -> str:
    """A short public fingerprint of the key (it changes when the key does; it reveals nothing)."""
    return hmac.new(key, b"fde-toolkit pii key id", hashlib.sha256).hexdigest()[:12]


def normalise_text(value: str) -> str:
    """Names, places, free text: case and spacing do not make a new person."""
    return " ".join(value.split()).casefold()


class Pseudonymizer:
    """Turns (entity, value, normalised value) into the operator's replacement; remembers the vault."""

    def __init__(self, key: bytes, config: PiiConfig):
        self._key = key
        self._config = config
        self._cache: dict[tuple[str, str], str] = {}
        self.vault: dict[str, str] = {}  # placeholder -> first original seen (deterministic order upstream)

    def placeholder(self, entity: str, normalised: str) -> str:
        k = (entity, normalised)
        ph = self._cache.get(k)
        if ph is None:
            digest = hmac.new(self._key, f"{entity}\x1f{normalised}".encode("utf-8"), hashlib.sha256).hexdigest()
            ph = self._cache[k] = f"<{entity}_{digest[:HEX_CHARS]}>"
        return ph

    def replacement(self, entity: str, value: str, normalised: str) -> str:
        """What `value` becomes in curated data; `keep` returns it unchanged."""
        op = self._config.operator(entity)
        if op == "keep":
            return value
        if op == "drop":
            return ""
        if op == "mask":
            if entity in MASKED_TAIL:
                tail = re.sub(r"[^0-9A-Za-z]", "", value)[-4:]
                return "****" + tail
            return f"<{entity}>"
        ph = self.placeholder(entity, normalised)
        if self._config.vault:
            self.vault.setdefault(ph, value)
        return ph
