"""The package works installed, not only from a source checkout: build the wheel, install it into a fresh
virtual environment outside the repository, and run `fde new`, `fde ingest` and the scoping report there."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_source_tree(tmp_path: Path) -> None:
    from fde_toolkit.synth import write_demo_logs

    dist = tmp_path / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
          str(REPO)], cwd=tmp_path)
    wheel = next(dist.glob("fde_toolkit-*.whl"))
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = Path(_run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp_path).stdout.strip())
    # the dependencies come from this test's environment (nothing downloads); the package itself only from
    # the wheel: a .pth line adds a folder to sys.path but does not run the editable install's finder there
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index", "-q", str(wheel)],
         cwd=tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # the dependencies' data files (nbconvert's base templates, the kernel spec) live under their prefix
    env["JUPYTER_PATH"] = str(Path(sys.prefix) / "share" / "jupyter")
    where = _run([str(py), "-c", "import fde_toolkit; print(fde_toolkit.__file__)"], cwd=tmp_path, env=env)
    assert Path(where.stdout.strip()).is_relative_to(site), where.stdout
    assert not Path(where.stdout.strip()).is_relative_to(REPO)

    write_demo_logs(tmp_path / "logs", n_calls=120, days=2, seed=3)
    fde = [str(env_dir / "bin" / "fde")]  # the console script the wheel installed
    _run([*fde, "new", "engagements/acme", "--logs", str(tmp_path / "logs")], cwd=tmp_path, env=env)
    assert "name: acme" in (tmp_path / "engagements" / "acme" / "engagement.yaml").read_text()
    _run([*fde, "ingest", "engagements/acme"], cwd=tmp_path, env=env)
    _run([*fde, "run", "engagements/acme", "--phase", "01_scoping"], cwd=tmp_path, env=env)
    html = (tmp_path / "engagements" / "acme" / "reports" / "01_scoping.html").read_text(encoding="utf-8")
    assert "Scoping report" in html and "<script src=\"http" not in html
