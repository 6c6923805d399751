"""Encoder specialists on faster feature extractors: torch dynamic int8, ONNX Runtime fp32 and int8.

The classifier head, the lexical features and the temperature are the trained ones; only the
encoder's pooled hidden states come from another runtime, tokenized exactly as in training
(truncation at `max_length`, padding only within a batch of similar lengths, none at batch 1).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fde_toolkit import FdeError
from fde_toolkit.hardening.runtimes import Converted, converted_model

ONNX_FILE = "encoder.onnx"
META = "encoder.json"
OPSET = 17


class OnnxFeatures:
    """EncoderFeatures computed by ONNX Runtime: the same pooling of the same last `layers` hidden states."""

    def __init__(self, folder: Path, layers: int, max_length: int, batch_size: int = 64, threads: int = 1):
        import onnxruntime as ort
        from transformers import AutoTokenizer

        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        if meta["layers"] != layers:
            raise FdeError(f"{folder}: exported for {meta['layers']} layers, the classifier uses {layers}. "
                           "Delete the folder; it is rebuilt on the next load.")
        self.tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = threads, 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        self.session = ort.InferenceSession(str(folder / meta["file"]), opts, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.layers, self.max_length, self.batch_size = layers, max_length, batch_size
        self.hidden = int(meta["hidden_size"])

    @property
    def dim(self) -> int:
        return self.layers * self.hidden

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")
        for i in range(0, len(order), self.batch_size):
            idx = order[i:i + self.batch_size]
            batch = self.tok([texts[j] for j in idx], padding=True, truncation=True, max_length=self.max_length,
                             return_tensors="np")
            hidden = self.session.run(None, {n: batch[n].astype(np.int64) for n in self.inputs})
            mask = batch["attention_mask"][..., None].astype(np.float32)
            count = np.maximum(mask.sum(1), 1.0)
            pooled = [(h * mask).sum(1) / count for h in hidden]
            out[idx] = np.concatenate([p / np.maximum(np.linalg.norm(p, axis=-1, keepdims=True), 1e-12)
                                       for p in pooled], axis=-1)
        return out


def load_encoder_runtime(eng, task: str, runtime: str, threads: int, validate=None):
    """An routing.signals.Encoder whose features come from `runtime` ("torch-int8", "onnx", "onnx-int8")."""
    from fde_toolkit.routing.signals import Encoder
    from fde_toolkit.slm.registry import Candidate, weights_folder

    training = eng.artifacts.read("training", task)
    info = eng.artifacts.read("dataset_info", task)
    cand = Candidate.model_validate(training["candidate"])
    head = eng.artifacts.require("adapter", task)
    src = weights_folder(cand)
    load_info: dict[str, Any] = {}
    if runtime == "torch-int8":
        from fde_toolkit.slm.encoder import EncoderClassifier

        clf = EncoderClassifier.load(head, src)
        clf.encoder.model = quantize_torch(clf.encoder.model)
    else:
        layers = _head_settings(head).layers
        conv = onnx_model(eng, task, src, layers, int8=runtime == "onnx-int8")
        load_info = {"converted": conv.converted, "convert_s": conv.seconds, "path": str(conv.path)}
        clf = _classifier(head, lambda s: OnnxFeatures(conv.path, s.layers, s.max_length, threads=threads))
    spec = Encoder(task=task, kind="encoder", output_kind=info.get("output_kind", "label"), candidate=cand.id,
                   validate=validate, labels=list(clf.labels), classifier=clf)
    spec.load_info = load_info
    return spec


def quantize_torch(model):
    """torch dynamic quantization: every nn.Linear with int8 weights (activations quantized per batch)."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notice
        return torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)


def onnx_model(eng, task: str, encoder_path: str, layers: int, int8: bool = False) -> Converted:
    """The encoder as ONNX (runtime_model <task>/onnx), and with int8 weights (<task>/onnx-int8) from it."""
    import onnxruntime
    import torch

    settings = {"layers": layers, "opset": OPSET, "torch": torch.__version__, "onnxruntime": onnxruntime.__version__}
    fp32 = converted_model(eng, task, "onnx", [encoder_path], settings,
                           lambda out: export_onnx(encoder_path, layers, out))
    if not int8:
        return fp32
    q = converted_model(eng, task, "onnx-int8", [fp32.path / ONNX_FILE], settings,
                        lambda out: quantize_onnx(fp32.path, out))
    return Converted(q.path, q.converted or fp32.converted, round(q.seconds + fp32.seconds, 3))


def export_onnx(encoder_path: str, layers: int, out: Path) -> None:
    """Export the transformers encoder with its last `layers` hidden states as outputs (dynamic batch, length)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(encoder_path, local_files_only=True)
    model = AutoModel.from_pretrained(encoder_path, local_files_only=True).eval()
    # two lengths: the traced graph keeps the attention mask (a batch without padding may drop it)
    sample = tok(["a b c d e f g h", "a"], padding=True, return_tensors="pt")
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in sample]
    outputs = [f"hidden_{k}" for k in range(layers)]

    class LastLayers(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, *args):
            hs = self.model(**dict(zip(names, args)), output_hidden_states=True).hidden_states
            return tuple(hs[-layers:])

    wrapper = LastLayers().eval()  # export restores the module's mode: it must be eval, not the default train
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, tuple(sample[n] for n in names), str(out / ONNX_FILE), dynamo=False,
                          input_names=names, output_names=outputs, opset_version=OPSET, do_constant_folding=True,
                          dynamic_axes={n: {0: "batch", 1: "length"} for n in names + outputs})
    tok.save_pretrained(str(out))
    (out / META).write_text(json.dumps({"file": ONNX_FILE, "layers": layers, "inputs": names,
                                        "hidden_size": int(model.config.hidden_size), "precision": "fp32"}),
                            encoding="utf-8")


def quantize_onnx(src: Path, out: Path) -> None:
    """ONNX Runtime dynamic quantization: int8 weights (QInt8), activations quantized at run time."""
    import logging
    import shutil

    from onnxruntime.quantization import QuantType, quantize_dynamic

    for f in src.iterdir():
        if f.is_file() and f.name not in (ONNX_FILE, "fingerprint.json"):
            shutil.copy2(f, out / f.name)
    level = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # its advice to pre-process the model first
    try:
        quantize_dynamic(str(src / ONNX_FILE), str(out / ONNX_FILE), weight_type=QuantType.QInt8)
    finally:
        logging.getLogger().setLevel(level)
    meta = json.loads((out / META).read_text(encoding="utf-8"))
    (out / META).write_text(json.dumps({**meta, "precision": "int8"}), encoding="utf-8")


def _head_settings(folder: Path):
    from fde_toolkit.slm.config import ClassifierSettings
    from fde_toolkit.slm.encoder import CONFIG

    try:
        meta = json.loads((Path(folder) / CONFIG).read_text(encoding="utf-8"))
        return ClassifierSettings.model_validate(meta["settings"])
    except (OSError, ValueError, KeyError):
        raise FdeError(f"{folder}: not a readable encoder classifier. Run `fde finetune --force` for the task.") \
            from None


def _classifier(folder: Path, features):
    """The trained EncoderClassifier from `folder` with `features(settings)` as its feature extractor
    (EncoderClassifier.load, without loading the torch encoder)."""
    from safetensors.numpy import load_file

    from fde_toolkit.slm.encoder import CONFIG, FORMAT, HEAD, LEXICAL, EncoderClassifier, _restore_vectorizer

    folder = Path(folder)
    meta = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT:
        raise FdeError(f"{folder / CONFIG}: format {meta.get('format')!r}, expected {FORMAT!r}. "
                       "Run `fde finetune --force` for the task.")
    tensors = load_file(str(folder / HEAD))
    settings = _head_settings(folder)
    lexical = None
    if meta.get("lexical"):
        terms = json.loads((folder / LEXICAL).read_text(encoding="utf-8"))
        lexical = {k: _restore_vectorizer(k, terms[k], tensors[f"idf_{k}"]) for k in meta["lexical"]}
    return EncoderClassifier(meta["labels"], tensors["coef"], tensors["intercept"], float(meta["temperature"]),
                             settings, features(settings), lexical)
