"""Encoder classifiers for label tasks: a frozen sentence encoder's features and a calibrated linear head.

    clf, result = fit_classifier(encoder_path, train_texts, train_labels, val_texts, val_labels, ClassifierSettings())
    clf.predict_proba(["where is my new card"])    # (n, labels); every row sums to 1
    clf.predict(["where is my new card"])          # ["card_arrival"]
    clf.save(folder); same = EncoderClassifier.load(folder, encoder_path)

Features per request: the mean-pooled hidden states of the encoder's last `layers` layers (each
scaled to unit length) and, with `lexical`, TF-IDF character (2-5) and word (1-2) n-grams fitted on
the training requests; the encoder itself is not trained, so one pass over the data is the whole
cost of fitting. The head is a multinomial logistic regression. Its probabilities are calibrated by
one temperature fitted on the validation split (lowest negative log-likelihood), which is what
routing reads when it decides whether to escalate.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fde_toolkit import FdeError
from fde_toolkit.files import replacing
from fde_toolkit.slm.config import ClassifierSettings

FORMAT = "fde-encoder-classifier/1"
CONFIG, HEAD, LEXICAL = "classifier.json", "head.safetensors", "lexical.json"


# ----------------------------------------------------------------------------- features

class EncoderFeatures:
    """Mean-pooled hidden states of a transformers encoder's last `layers` layers, each unit length."""

    def __init__(self, path: str, layers: int = 3, max_length: int = 128, batch_size: int = 64):
        from transformers import AutoModel, AutoTokenizer

        try:
            self.tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
            self.model = AutoModel.from_pretrained(path, local_files_only=True).eval()
        except OSError:
            raise FdeError(f"Encoder candidate: no transformers encoder in {path}. Check the candidate's "
                           "`folder:` / `package:` and `subfolder:` in `candidates:`.") from None
        self.layers, self.max_length, self.batch_size = layers, max_length, batch_size

    @property
    def dim(self) -> int:
        return self.layers * int(self.model.config.hidden_size)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        order = np.argsort([len(t) for t in texts], kind="stable")  # similar lengths share a batch
        with torch.inference_mode():
            for i in range(0, len(order), self.batch_size):
                idx = order[i:i + self.batch_size]
                batch = self.tok([texts[j] for j in idx], padding=True, truncation=True, max_length=self.max_length,
                                 return_tensors="pt")
                hidden = self.model(**batch, output_hidden_states=True).hidden_states[-self.layers:]
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden[0].dtype)
                pooled = [torch.nn.functional.normalize((h * mask).sum(1) / mask.sum(1).clamp(min=1), dim=-1)
                          for h in hidden]
                out[idx] = torch.cat(pooled, dim=-1).float().numpy()
        return out


def _vectorizers():
    from sklearn.feature_extraction.text import TfidfVectorizer
    return {"char": TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2),
            "word": TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)}


def stack_features(dense: np.ndarray, texts: Sequence[str], lexical: dict[str, Any] | None):
    """The head's input: TF-IDF char and word n-grams (with `lexical`), then the dense encoder features."""
    if not lexical:
        return dense
    from scipy import sparse
    parts = [lexical[k].transform(texts) for k in ("char", "word")]
    return sparse.hstack([*parts, sparse.csr_matrix(dense)]).tocsr()


def _restore_vectorizer(kind: str, terms: list[str], idf: np.ndarray):
    """A fitted TfidfVectorizer from its terms (in column order) and idf weights."""
    vec = _vectorizers()[kind]
    vec.set_params(vocabulary={t: i for i, t in enumerate(terms)}, min_df=1)
    vec.fit(terms[:1] or [""])  # fixes the vocabulary; the idf is replaced next
    vec.idf_ = idf
    return vec


# ----------------------------------------------------------------------------- the classifier

@dataclass
class EncoderClassifier:
    """Features -> logits (coef @ x + intercept) -> softmax(logits / temperature)."""

    labels: list[str]
    coef: np.ndarray  # (labels, features)
    intercept: np.ndarray  # (labels,)
    temperature: float
    settings: ClassifierSettings
    encoder: EncoderFeatures
    lexical: dict[str, Any] | None = None  # {"char": vectorizer, "word": vectorizer}

    def features(self, texts: Sequence[str]):
        return stack_features(self.encoder(list(texts)), texts, self.lexical)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """coef @ features + intercept, block by block (no stacked feature matrix: faster per query)."""
        blocks = self._blocks()
        z = self.encoder(list(texts)) @ blocks["dense"] + self.intercept
        for k in ("char", "word") if self.lexical else ():
            z += np.asarray(self.lexical[k].transform(texts) @ blocks[k])
        return z

    def _blocks(self) -> dict[str, np.ndarray]:
        """The head's weights split by feature block (lexical char, word, then dense), transposed, cached."""
        if getattr(self, "_cache", None) is None:
            sizes = [len(self.lexical[k].vocabulary_) for k in ("char", "word")] if self.lexical else []
            cuts = np.cumsum([0, *sizes])
            out = {k: np.ascontiguousarray(self.coef[:, cuts[i]:cuts[i + 1]].T)
                   for i, k in enumerate(("char", "word")[: len(sizes)])}
            out["dense"] = np.ascontiguousarray(self.coef[:, cuts[-1]:].T)
            self._cache = out
        return self._cache

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probability of every label (columns in `labels` order)."""
        return softmax(self.logits(texts) / self.temperature)

    def predict(self, texts: Sequence[str]) -> list[str]:
        if not texts:
            return []
        return [self.labels[i] for i in self.predict_proba(texts).argmax(1)]

    def save(self, folder: Path) -> Path:
        """Write classifier.json, head.safetensors (and lexical.json) atomically into `folder`."""
        from safetensors.numpy import save_file

        tensors = {"coef": np.ascontiguousarray(self.coef, dtype=np.float32),
                   "intercept": np.ascontiguousarray(self.intercept, dtype=np.float32)}
        lexical_terms = {}
        for k, vec in (self.lexical or {}).items():
            terms = sorted(vec.vocabulary_, key=vec.vocabulary_.get)
            lexical_terms[k] = terms
            tensors[f"idf_{k}"] = np.ascontiguousarray(vec.idf_, dtype=np.float64)
        with replacing(Path(folder)) as tmp:
            tmp.mkdir(parents=True)
            save_file(tensors, str(tmp / HEAD))
            (tmp / CONFIG).write_text(json.dumps({
                "format": FORMAT, "labels": self.labels, "temperature": self.temperature,
                "settings": self.settings.model_dump(mode="json"), "lexical": sorted(lexical_terms)}, indent=1),
                encoding="utf-8")
            if lexical_terms:
                (tmp / LEXICAL).write_text(json.dumps(lexical_terms), encoding="utf-8")
        return Path(folder)

    @classmethod
    def load(cls, folder: Path, encoder_path: str) -> "EncoderClassifier":
        from safetensors.numpy import load_file

        folder = Path(folder)
        try:
            meta = json.loads((folder / CONFIG).read_text(encoding="utf-8"))
            tensors = load_file(str(folder / HEAD))
        except (OSError, ValueError) as e:
            raise FdeError(f"{folder}: not a readable encoder classifier ({type(e).__name__}). "
                           "Run `fde finetune --force` for the task.") from None
        if meta.get("format") != FORMAT:
            raise FdeError(f"{folder / CONFIG}: format {meta.get('format')!r}, expected {FORMAT!r}. "
                           "Run `fde finetune --force` for the task.")
        settings = ClassifierSettings.model_validate(meta["settings"])
        lexical = None
        if meta.get("lexical"):
            terms = json.loads((folder / LEXICAL).read_text(encoding="utf-8"))
            lexical = {k: _restore_vectorizer(k, terms[k], tensors[f"idf_{k}"]) for k in meta["lexical"]}
        enc = EncoderFeatures(encoder_path, settings.layers, settings.max_length)
        return cls(meta["labels"], tensors["coef"], tensors["intercept"], float(meta["temperature"]), settings,
                   enc, lexical)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, targets: np.ndarray, smoothing: float = 0.01) -> float:
    """The temperature that minimises the negative log-likelihood of `targets` (1.0 without data).

    The likelihood is label-smoothed (`smoothing` of the mass spread over every label), so that a
    validation split the head gets all right does not drive the temperature to zero and every
    probability to 1.0: routing needs confidences that can still say "unsure"."""
    if len(targets) == 0:
        return 1.0
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        logp = np.log(np.clip(softmax(logits / np.exp(log_t)), 1e-12, None))
        return float(-((1 - smoothing) * logp[np.arange(len(targets)), targets] + smoothing * logp.mean(1)).mean())

    res = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


def expected_calibration_error(probs: np.ndarray, targets: np.ndarray, bins: int = 10) -> float:
    """Mean |confidence - accuracy| over equal-width confidence bins, weighted by their size."""
    if len(targets) == 0:
        return float("nan")
    conf, pred = probs.max(1), probs.argmax(1)
    right = (pred == targets).astype(float)
    edges = np.minimum((conf * bins).astype(int), bins - 1)
    total = 0.0
    for b in np.unique(edges):
        m = edges == b
        total += m.sum() * abs(conf[m].mean() - right[m].mean())
    return float(total / len(targets))


def fit_classifier(encoder_path: str, train_texts: Sequence[str], train_labels: Sequence[str],
                   val_texts: Sequence[str], val_labels: Sequence[str],
                   settings: ClassifierSettings | None = None, seed: int = 0) -> tuple[EncoderClassifier, dict]:
    """Fit the head on the training requests, calibrate on validation; (classifier, what happened)."""
    from sklearn.linear_model import LogisticRegression

    settings = settings or ClassifierSettings()
    labels = sorted(set(train_labels))
    if len(labels) < 2:
        raise FdeError(f"An encoder classifier needs at least two labels in the training split; it has "
                       f"{len(labels)} ({', '.join(labels) or 'none'}). Collect more calls of the task, "
                       "or use a decoder candidate.")
    t0 = time.perf_counter()
    encoder = EncoderFeatures(encoder_path, settings.layers, settings.max_length)
    dense = encoder(list(train_texts))
    t_embed = time.perf_counter() - t0
    lexical = None
    if settings.lexical:
        lexical = {}
        for k, vec in _vectorizers().items():
            try:
                lexical[k] = vec.fit(list(train_texts))
            except ValueError:  # too few documents for min_df: no such n-grams
                lexical[k] = vec.set_params(min_df=1).fit(list(train_texts))
    x = stack_features(dense, train_texts, lexical)
    index = {lab: i for i, lab in enumerate(labels)}
    y = np.array([index[v] for v in train_labels])
    head = LogisticRegression(C=settings.c, max_iter=settings.max_iter, random_state=seed)
    head.fit(x, y)
    coef, intercept = head.coef_, head.intercept_
    if len(labels) == 2:  # sklearn keeps one row for two classes: make it a two-column softmax
        coef = np.vstack([np.zeros_like(coef), coef])
        intercept = np.concatenate([[0.0], intercept])
    clf = EncoderClassifier(labels, coef.astype(np.float32), intercept.astype(np.float32), 1.0, settings,
                            encoder, lexical)
    known = [(t, index[v]) for t, v in zip(val_texts, val_labels) if v in index]
    val_acc = ece_before = ece_after = None
    if known:
        vt, vy = [t for t, _ in known], np.array([i for _, i in known])
        z = clf.logits(vt)
        ece_before = expected_calibration_error(softmax(z), vy)
        clf.temperature = fit_temperature(z, vy)
        probs = softmax(z / clf.temperature)
        ece_after = expected_calibration_error(probs, vy)
        val_acc = float((probs.argmax(1) == vy).mean())
    seconds = time.perf_counter() - t0
    result = {"method": "frozen encoder + logistic regression", "labels": len(labels),
              "features": int(x.shape[1]), "train_examples": len(train_texts), "val_examples": len(known),
              "val_unknown_labels": len(val_texts) - len(known), "val_accuracy": val_acc,
              "temperature": round(clf.temperature, 4), "val_ece_before": ece_before, "val_ece_after": ece_after,
              "embed_seconds": round(t_embed, 2), "elapsed_seconds": round(seconds, 2),
              "converged": bool(head.n_iter_.max() < settings.max_iter)}
    return clf, result
