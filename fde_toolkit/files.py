"""Safe writes: every artifact is written to a temporary file beside it, then moved into place, so a
crash or a full disk never leaves half a file where a reader expects a whole one.

    write_json(path, obj)            write_text(path, "...")        write_jsonl(path, rows)
    write_parquet(path, df)          with replacing(path) as tmp: writer(tmp)
"""

from __future__ import annotations

import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator


@contextmanager
def replacing(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` (file or folder) at once."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    _remove(tmp)
    try:
        yield tmp
        if tmp.is_dir() and path.is_dir():  # a folder cannot be replaced in one step: move the old one aside
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            _remove(old)
            os.replace(path, old)
            os.replace(tmp, path)
            _remove(old)
        else:
            os.replace(tmp, path)
    finally:
        _remove(tmp)


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p)
    elif p.exists() or p.is_symlink():
        p.unlink()


def write_text(path: str | os.PathLike, text: str) -> Path:
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 1,
               default: Callable[[Any], Any] = str, allow_nan: bool = True) -> Path:
    """JSON as UTF-8 (non-ASCII kept as is); values json cannot encode go through `default`."""
    return write_text(path, json.dumps(obj, indent=indent, ensure_ascii=False, default=default,
                                       allow_nan=allow_nan))


def write_jsonl(path: str | os.PathLike, rows: Iterable[dict[str, Any]]) -> Path:
    """One JSON object a line (orjson: fast on big datasets)."""
    import orjson

    with replacing(path) as tmp, open(tmp, "wb") as f:
        for r in rows:
            f.write(orjson.dumps(r, default=str, option=orjson.OPT_NON_STR_KEYS) + b"\n")
    return Path(path)


def write_parquet(path: str | os.PathLike, df) -> Path:
    """A polars DataFrame as Parquet."""
    with replacing(path) as tmp:
        df.write_parquet(tmp)
    return Path(path)
