"""Files the package ships beside its code: the phase notebooks, the engagement template, the nbconvert
templates, vendored reveal.js and the built-in price table.

    assets.path("notebooks")                     # .../fde_toolkit/notebooks
    assets.path("templates", "engagement.yaml")  # the file `fde new` copies

They are found through importlib.resources, so they load the same from a source checkout and from an
installed wheel.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from fde_toolkit import FdeError


def path(*parts: str) -> Path:
    """The on-disk path of a shipped file or folder; an FdeError naming it when the install lacks it."""
    target = resources.files("fde_toolkit").joinpath(*parts)
    try:
        where = Path(os.fspath(target))
    except TypeError:  # a zipped install: resources without a file system path
        raise FdeError(f"fde_toolkit is installed in a form without files on disk ({target}); "
                       "install it with pip into a virtual environment.") from None
    if not where.exists():
        raise FdeError(f"{where}: missing from the fde_toolkit installation. Reinstall the package "
                       "(`make install`, or `pip install --force-reinstall fde-toolkit`).")
    return where


def source_checkout() -> Path | None:
    """The repository folder when running from a source checkout (it holds pyproject.toml), else None."""
    root = Path(os.fspath(resources.files("fde_toolkit"))).resolve().parent
    return root if (root / "pyproject.toml").is_file() else None
