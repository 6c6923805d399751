"""Fast CPU runtimes for the task specialists: the same answers as the eager model, faster.

    runtimes_for("encoder")                     # ["eager", "torch-int8", "onnx", "onnx-int8"]
    runtimes_for("decoder", ["eager", "onnx", "ct2-int8"])   # ["eager", "ct2-int8"]: those that apply
    unavailable_runtimes("decoder")             # {"llama.cpp": "llama-cpp-python does not import: ..."}
    spec = load_runtime(eng, "t01", "onnx-int8", threads=2)   # a routing Specialist, converted once, cached
    spec.answer(records).predictions            # as the eager specialist answers
    recommended_runtime(eng, "t01")             # hardening.json's pick, else "eager"

Encoders (slm/encoder.py: a frozen encoder's pooled hidden states, then a logistic head): only the
feature extractor changes; the head, the lexical TF-IDF features and the temperature stay.
- "eager": torch fp32, as trained.          - "torch-int8": torch dynamic int8 of every nn.Linear.
- "onnx": the encoder exported to ONNX (the hidden states of its last `layers` layers as outputs),
  run by ONNX Runtime.                      - "onnx-int8": that model with int8 weights (dynamic).
Decoders (a causal LM with the task's LoRA adapter, answering as `fde evaluate` does):
- "eager": PEFT, adapter unmerged.          - "merged": the adapter merged into the weights.
- "ct2-float32", "ct2-int8": the merged model converted to CTranslate2 (decoder_runtimes.py).
A converted model lives in artifacts/models/<task>/runtime/<runtime>/ with a fingerprint of what it was
converted from; it is reused while that source is unchanged and rebuilt (atomically) when it changes.
Runtimes that quantize in memory (torch-int8, merged) write nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from fde_toolkit import FdeError

RUNTIMES: dict[str, tuple[str, ...]] = {"encoder": ("eager", "torch-int8", "onnx", "onnx-int8"),
                                        "decoder": ("eager", "merged", "ct2-float32", "ct2-int8")}
PRECISION = {"eager": "fp32", "torch-int8": "int8", "onnx": "fp32", "onnx-int8": "int8", "merged": "fp32",
             "ct2-float32": "fp32", "ct2-int8": "int8", "llama.cpp": "q8_0"}
CONSIDERED = {"decoder": ("llama.cpp",)}  # measured where they install; else unavailable_runtimes says why
FINGERPRINT = "fingerprint.json"
FORMAT = "fde-runtime/1"
_HASH_LIMIT = 64 * 2**20  # files up to this size are hashed; bigger ones are fingerprinted by size and mtime


def runtimes_for(kind: str, wanted: Sequence[str] = ()) -> list[str]:
    """Every runtime of `kind` ("encoder" | "decoder"), or those of `wanted` that apply to it, in order.

    A name no kind knows is an FdeError (a typo in hardening.runtimes)."""
    if kind not in RUNTIMES:
        raise FdeError(f"Specialist kind {kind!r}: expected one of {', '.join(RUNTIMES)}.")
    known = {r for k in RUNTIMES for r in (*RUNTIMES[k], *CONSIDERED.get(k, ()))}
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise FdeError(f"Runtime {', '.join(map(repr, unknown))}: unknown. `hardening.runtimes` in engagement.yaml "
                       f"(or --runtimes) takes {', '.join(sorted(known))}; [] measures every one that applies.")
    if not wanted:
        return list(RUNTIMES[kind])
    return [r for r in RUNTIMES[kind] if r in set(wanted)]


def unavailable_runtimes(kind: str) -> dict[str, str]:
    """Runtimes considered for `kind` that cannot be measured on this machine, with why."""
    runtimes_for(kind)
    out: dict[str, str] = {}
    if kind == "decoder":
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            out["llama.cpp"] = ("llama-cpp-python does not import here: it ships no wheel for this platform "
                                "and builds from source with a C++ toolchain and CMake; install it to measure "
                                "a GGUF export of the merged model.")
        else:
            out["llama.cpp"] = "llama-cpp-python imports, but a GGUF export of the merged model is not built yet."
        for name, module in (("ct2-float32", "ctranslate2"), ("ct2-int8", "ctranslate2")):
            if not _imports(module):
                out[name] = f"{module} does not import: install it (pip install {module})."
    if kind == "encoder":
        for name in ("onnx", "onnx-int8"):
            if not (_imports("onnxruntime") and _imports("onnx")):
                out[name] = "onnxruntime and onnx must both import: pip install onnxruntime onnx."
    return out


def _imports(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def load_runtime(eng, task: str, runtime: str, threads: int | None = None, validate=None):
    """The task's specialist in `runtime`: a routing.signals.Specialist answering as the eager one does.

    The model is converted on first use (cached in the runtime_model artifact); `threads` is the CPU threads
    it computes with (None: as many as torch uses). For the torch runtimes it sets torch's thread count."""
    from fde_toolkit.routing.signals import load_specialist

    training = eng.artifacts.read("training", task)
    kind = "encoder" if training.get("specialist") == "encoder" else "decoder"
    if runtime not in runtimes_for(kind, [runtime]):
        raise FdeError(f"Runtime {runtime!r} does not apply to task {task}'s {kind} specialist; "
                       f"its runtimes: {', '.join(RUNTIMES[kind])}.")
    missing = unavailable_runtimes(kind).get(runtime)
    if missing:
        raise FdeError(f"Runtime {runtime!r} for task {task}: {missing}")
    threads = _threads(threads)
    t0 = time.perf_counter()
    if runtime == "eager":
        spec = load_specialist(eng, task, validate)
    elif kind == "encoder":
        from fde_toolkit.hardening.encoder_runtimes import load_encoder_runtime

        spec = load_encoder_runtime(eng, task, runtime, threads, validate)
    else:
        from fde_toolkit.hardening.decoder_runtimes import load_decoder_runtime

        spec = load_decoder_runtime(eng, task, runtime, threads, validate)
    spec.runtime = runtime
    spec.load_info = {**(getattr(spec, "load_info", None) or {}), "runtime": runtime, "threads": threads,
                      "precision": PRECISION[runtime], "device": "cpu",
                      "load_s": round(time.perf_counter() - t0, 3)}
    return spec


def _threads(threads: int | None) -> int:
    import torch

    if threads is not None:
        if threads < 1:
            raise FdeError(f"threads: {threads}; give 1 or more (hardening.threads in engagement.yaml).")
        torch.set_num_threads(threads)
    return int(threads or torch.get_num_threads())


def recommended_runtime(eng, task: str) -> str:
    """The runtime hardening.json recommends for `task` (`fde harden`), else "eager"."""
    doc = eng.artifacts.optional("hardening") or {}
    rec = ((doc.get("tasks") or {}).get(task) or {}).get("recommended") or {}
    return rec.get("runtime") or "eager"


def recommended_batch_size(eng, task: str) -> int | None:
    """The batch size hardening.json recommends for `task`'s specialist (the requests it answers together), or
    None (no recommendation: every request of a serving batch at once)."""
    doc = eng.artifacts.optional("hardening") or {}
    size = (((doc.get("tasks") or {}).get(task) or {}).get("recommended") or {}).get("batch_size")
    return int(size) if isinstance(size, (int, float)) and size >= 1 else None


# ----------------------------------------------------------------------------- the conversion cache

def fingerprint(sources: Sequence[str | os.PathLike], settings: dict[str, Any]) -> dict[str, Any]:
    """What a conversion was made from: every source file (sha256 up to 64 MiB, else size and mtime) and the
    settings that shape it (runtime, library versions, ...)."""
    files: dict[str, str] = {}
    for src in sources:
        src = Path(src)
        paths = sorted(p for p in src.rglob("*") if p.is_file()) if src.is_dir() else [src]
        for p in paths:
            st = p.stat()
            if st.st_size <= _HASH_LIMIT:
                h = hashlib.sha256()
                with open(p, "rb") as f:
                    for block in iter(lambda: f.read(2**20), b""):
                        h.update(block)
                files[str(p.resolve())] = "sha256:" + h.hexdigest()
            else:
                files[str(p.resolve())] = f"size:{st.st_size}:mtime:{st.st_mtime_ns}"
    return {"format": FORMAT, "settings": settings, "files": files}


@dataclass
class Converted:
    """A runtime model folder, and whether this call converted it (False: reused from the cache)."""

    path: Path
    converted: bool
    seconds: float


def converted_model(eng, task: str, runtime: str, sources: Sequence[str | os.PathLike], settings: dict[str, Any],
                    build: Callable[[Path], None]) -> Converted:
    """artifacts/models/<task>/runtime/<runtime>: reused when its fingerprint matches `sources` and `settings`,
    else built by `build(folder)` into a temporary folder that then replaces it."""
    from fde_toolkit.files import replacing

    dest = eng.artifacts.path("runtime_model", task, runtime)
    t0 = time.perf_counter()
    want = fingerprint(sources, {"runtime": runtime, **settings})
    try:
        have = json.loads((dest / FINGERPRINT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        have = None
    if have == want:
        return Converted(dest, False, round(time.perf_counter() - t0, 3))
    with replacing(dest) as tmp:
        tmp.mkdir(parents=True)
        build(tmp)
        (tmp / FINGERPRINT).write_text(json.dumps(want, indent=1), encoding="utf-8")
    return Converted(dest, True, round(time.perf_counter() - t0, 3))

