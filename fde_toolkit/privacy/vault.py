"""The optional reversible vault: placeholder -> original value, encrypted at rest (Fernet).

The vault key is derived from the PII key with HKDF-SHA256 under its own label, so one secret
serves both the pseudonyms and the vault, and neither reveals the other. Without the key the file
is unreadable; with it, `read_vault` gives the mapping back (e.g. to show a client which record a
placeholder stood for).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import orjson
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from fde_toolkit import FdeError
from fde_toolkit.files import write_bytes

_INFO = b"fde-toolkit pii vault v1"


def _fernet(key: bytes) -> Fernet:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(key)
    return Fernet(base64.urlsafe_b64encode(derived))


def write_vault(path: str | os.PathLike, mapping: dict[str, str], key: bytes) -> Path:
    """Encrypt and write the mapping (atomically)."""
    return write_bytes(path, _fernet(key).encrypt(orjson.dumps(dict(sorted(mapping.items())))))


def read_vault(path: str | os.PathLike, key: bytes) -> dict[str, str]:
    """The placeholder -> original mapping; an FdeError when the file is missing or the key is wrong."""
    path = Path(path)
    if not path.is_file():
        raise FdeError(f"{path}: no vault here. Set `vault: true` under `pii:` and run `fde scrub` again.")
    try:
        return orjson.loads(_fernet(key).decrypt(path.read_bytes()))
    except InvalidToken:
        raise FdeError(f"{path}: cannot decrypt the vault with this key. It opens only with the PII key "
                       "that wrote it ($FDE_PII_KEY or pii.key_file).") from None
