"""Importing the toolkit and running the S1 steps loads none of the model stack: `fde ingest` and
`fde profile` start in a second on a laptop, and work where torch is broken or absent."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HEAVY = ["torch", "transformers", "peft", "accelerate", "spacy", "sentence_transformers", "sklearn", "scipy"]

PROBE = """
import json, sys
from fde_toolkit.cli import main
sys.argv = ["fde", *sys.argv[1:]]
try:
    main()
except SystemExit as e:
    assert not e.code, e.code
print(json.dumps(sorted(m for m in {heavy} if m in sys.modules)))
"""


def _loaded(*args: str, cwd: Path) -> list[str]:
    r = subprocess.run([sys.executable, "-c", PROBE.format(heavy=HEAVY), *args], cwd=cwd, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_import_ingest_and_profile_load_no_model_stack(tmp_path: Path, make_engagement, canonical_record, jsonl):
    r = subprocess.run([sys.executable, "-c", f"import sys, fde_toolkit, fde_toolkit.engagement, fde_toolkit.cli; "
                        f"print([m for m in {HEAVY} if m in sys.modules])"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr
    eng = make_engagement({"calls.jsonl": jsonl([canonical_record(i) for i in range(20)])})
    assert _loaded("ingest", str(eng.root), cwd=tmp_path) == []
    assert _loaded("profile", str(eng.root), cwd=tmp_path) == []
    assert eng.artifacts.exists("profile")  # the probe really ran the steps
