"""Decoder specialists merged, or converted to CTranslate2, answering as the eager PEFT model does.

The CTranslate2 specialist mirrors routing.signals.Decoder step by step: the same prompts; labels
scored by their summed log-probability after the prompt, or, for a label set decoded greedily, the
same greedy walk inside the label trie (each branching token chosen by its log-probability among the
allowed ones); tool names scored among the names the request offered, then the arguments generated
greedily after the chosen name; free text and JSON greedy (generate_batch, stopping at the
end-of-turn / end-of-sequence tokens, at most finetune.evaluate.max_new_tokens). The token signals
are the chosen answer's teacher-forced token log-probabilities, so they carry the same names and
meaning. Label and tool-name scores come from one generate_batch call per request: the prompt runs
once as its static prompt and every label is forced after it, each step's logits kept (scoring each
prompt + label sequence on its own with score_batch costs a prompt pass per label).
"""

from __future__ import annotations

import shutil
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from fde_toolkit import FdeError
from fde_toolkit.hardening.runtimes import converted_model
from fde_toolkit.routing.signals import NO_RIVAL_MARGIN, TOKEN_SIGNALS, Specialist, token_signals, top_margin

SCORE_TOKENS = 4096  # tokens per score_batch chunk


def load_decoder_runtime(eng, task: str, runtime: str, threads: int, validate=None):
    """The task's decoder specialist in "merged", "ct2-float32" or "ct2-int8"."""
    from fde_toolkit.routing.signals import load_specialist

    if runtime == "merged":
        spec = load_specialist(eng, task, validate)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec.model = spec.model.merge_and_unload().eval()
        return spec
    import ctranslate2

    from fde_toolkit.slm.registry import Candidate, load_tokenizer, weights_folder

    training = eng.artifacts.read("training", task)
    info = eng.artifacts.read("dataset_info", task)
    cand = Candidate.model_validate(training["candidate"])
    adapter = eng.artifacts.require("adapter", task)
    quant = runtime.removeprefix("ct2-")
    conv = converted_model(eng, task, runtime, [adapter, weights_folder(cand)],
                           {"candidate": training["candidate"], "quantization": quant,
                            "ctranslate2": ctranslate2.__version__},
                           lambda out: convert_ct2(eng, task, quant, out))
    tok = load_tokenizer(cand)
    check_vocabulary(tok)
    gen = ctranslate2.Generator(str(conv.path), device="cpu", intra_threads=threads, inter_threads=1)
    spec = Ct2Decoder(task=task, kind="decoder", output_kind=info.get("output_kind", "text"), candidate=cand.id,
                      validate=validate, labels=list(info.get("labels") or []), generator=gen, tok=tok,
                      cfg=eng.config.finetune, tool_names=list(info.get("tools") or []),
                      system_prompt=training.get("train", {}).get("system_prompt", "keep"))
    spec.load_info = {"converted": conv.converted, "convert_s": conv.seconds, "path": str(conv.path)}
    return spec


def convert_ct2(eng, task: str, quantization: str, out: Path) -> None:
    """Merge the task's adapter, save the merged model to a temporary folder, convert it into `out`."""
    import ctranslate2

    from fde_toolkit.routing.signals import load_specialist

    spec = load_specialist(eng, task)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        merged = spec.model.merge_and_unload().eval()
    tmp = Path(tempfile.mkdtemp(prefix="fde-merged-"))
    try:
        merged.save_pretrained(str(tmp))
        spec.tok.save_pretrained(str(tmp))
        del merged, spec
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ctranslate2.converters.TransformersConverter(str(tmp), low_cpu_mem_usage=True).convert(
                str(out), quantization=quantization, force=True)
    except (ValueError, NotImplementedError) as e:  # an architecture CTranslate2 does not convert
        raise FdeError(f"Task {task}: CTranslate2 cannot convert this model ({e}). Use the eager or merged "
                       "runtime for it (hardening.runtimes).") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class Ct2Decoder(Specialist):
    """A merged decoder run by a ctranslate2.Generator, answering as routing.signals.Decoder does."""

    generator: Any = None
    tok: Any = None
    cfg: Any = None  # FinetuneConfig
    tool_names: list[str] = field(default_factory=list)
    system_prompt: str = "keep"

    @property
    def tokenizer(self):
        return self.tok

    def _answer(self, records: list[dict[str, Any]]) -> tuple[list[str], dict[str, np.ndarray]]:
        from fde_toolkit.slm.answer import conversations
        from fde_toolkit.slm.chat import encode_prompts
        from fde_toolkit.slm.decode import answer_ids, label_mode
        from fde_toolkit.slm.tools import offered_tool_names

        ev = self.cfg.evaluate
        prompts = encode_prompts(self.tok, conversations(records, self.cfg, None, self.system_prompt))
        offered = [offered_tool_names(r.get("tools")) for r in records]
        margin, lps = None, None
        if self.output_kind == "label" and self.labels:
            seqs = answer_ids(self.tok, self.labels)
            if label_mode(ev.label_decoding, len(self.labels)) == "score":
                scores, per_token = self._continuations(prompts, seqs)
                pick = scores.argmax(1).tolist()
                lps = [per_token[i][j] for i, j in enumerate(pick)]
                margin = top_margin(scores)
            else:
                pick, lps, rival_gap = self._greedy_in_trie(prompts, seqs)
                margin = np.array(rival_gap)
            preds = [self.labels[j] for j in pick]
            answers = [seqs[j] for j in pick]
        elif self.output_kind == "tool_call" and (self.tool_names or any(offered)):
            preds, margin = self._tool_calls(prompts, offered)
            answers = answer_ids(self.tok, preds)
        else:
            preds = [self._decode(s) for s in self._generate(prompts)]
            answers = answer_ids(self.tok, preds)
            if self.output_kind in ("label", "tool_call"):
                margin = np.zeros(len(records))
        if lps is None:
            lps = self._answer_logprobs(prompts, answers)
        signals = token_signals(lps)
        if margin is not None:
            signals["label_margin"] = np.asarray(margin, dtype=np.float64)
        return preds, signals

    def _empty_signals(self) -> dict[str, np.ndarray]:
        names = TOKEN_SIGNALS + (("label_margin",) if self.output_kind in ("label", "tool_call") else ())
        return {k: np.zeros(0) for k in names}

    # ------------------------------------------------------------------ CTranslate2 calls

    def _tokens(self, ids: Sequence[int]) -> list[str]:
        return self.tok.convert_ids_to_tokens(list(ids))

    def _stops(self) -> list[int]:
        from fde_toolkit.slm.chat import stop_token_ids

        return stop_token_ids(self.tok)

    def _logprobs(self, seqs: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """Per sequence, the log-probability of each token after the first (teacher-forced)."""
        if not seqs:
            return []
        res = self.generator.score_batch([self._tokens(s) for s in seqs], max_batch_size=SCORE_TOKENS,
                                         batch_type="tokens", max_input_length=0)
        return [np.asarray(r.log_probs, dtype=np.float64) for r in res]

    def _answer_logprobs(self, prompts: Sequence[list[int]], answers: Sequence[list[int]]) -> list[np.ndarray]:
        lps = self._logprobs([list(p) + list(a) for p, a in zip(prompts, answers)])
        return [lp[len(lp) - len(a):] if a else np.zeros(0) for lp, a in zip(lps, answers)]

    def _next_logprobs(self, prompt: Sequence[int], seqs: Sequence[Sequence[int]]):
        """For each node of the trie of `seqs` (a prefix of one of them), the log-probability of every token the
        trie allows next, after prompt + prefix. One generate_batch call: the prompt runs once (static_prompt,
        not cached across calls), then each sequence is forced token by token and each step's logits kept."""
        from fde_toolkit.slm.decode import _trie

        trie = _trie([list(x) for x in seqs])
        if len(prompt) < 2:  # no static prompt to share: score every allowed token on its own
            asks = [(node, c) for node, kids in trie.items() for c in kids]
            lps = self._logprobs([list(prompt) + list(node) + [c] for node, c in asks])
            out: dict[tuple[int, ...], dict[int, float]] = {}
            for (node, c), lp in zip(asks, lps):
                out.setdefault(node, {})[c] = float(lp[-1])
            return out
        starts = [[prompt[-1], *x[:-1]] for x in seqs]
        res = self.generator.generate_batch([self._tokens(x) for x in starts], static_prompt=self._tokens(prompt[:-1]),
                                            cache_static_prompt=False, include_prompt_in_result=True,
                                            max_length=max(map(len, starts)), beam_size=1, sampling_topk=1,
                                            return_logits_vocab=True)
        out = {}
        for x, r in zip(seqs, res):
            steps = r.logits[0] if r.logits and isinstance(r.logits[0], list) else r.logits
            for k in range(len(x)):  # step k: the logits after prompt + x[:k]
                node = tuple(x[:k])
                if node not in out:
                    z = np.asarray(steps[k], dtype=np.float64).reshape(-1)
                    m = z.max()
                    lse = m + np.log(np.exp(z - m).sum())
                    out[node] = {c: float(z[c] - lse) for c in trie[node]}
        return out

    def _continuations(self, prompts: Sequence[list[int]], conts: Sequence[list[int]]):
        """([prompts x continuations] summed log-probabilities, per prompt and continuation the token log-probs)."""
        per = []
        for p in prompts:
            nodes = self._next_logprobs(p, conts)
            per.append([np.array([nodes[tuple(c[:k])][t] for k, t in enumerate(c)]) for c in conts])
        return np.array([[float(x.sum()) for x in row] for row in per]).reshape(len(prompts), len(conts)), per

    def _generate(self, prompts: Sequence[list[int]]) -> list[list[int]]:
        """Greedy continuations (ids), cut at the first stop token, as decode._generate_ids makes them."""
        if not prompts:
            return []
        stops = self._stops()
        ev = self.cfg.evaluate
        res = self.generator.generate_batch([self._tokens(p) for p in prompts], max_batch_size=ev.batch_size,
                                            beam_size=1, sampling_topk=1, max_length=ev.max_new_tokens,
                                            end_token=stops, return_end_token=False, include_prompt_in_result=False)
        out = []
        for r in res:
            seq = list(r.sequences_ids[0])
            cut = next((k for k, t in enumerate(seq) if t in stops), len(seq))
            out.append(seq[:cut])
        return out

    def _decode(self, ids: Sequence[int]) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=True).strip()

    # ------------------------------------------------------------------ choices

    def _greedy_in_trie(self, prompts: Sequence[list[int]], seqs: Sequence[list[int]]):
        """decode.choose_sequences(mode="greedy"): per prompt, the label reached by taking the most likely
        allowed token at each step; its token log-probabilities; and the margin routing reads (signals.Decoder:
        the smallest, over the branching tokens, of the chosen token's log-probability minus the best other
        allowed one's, NO_RIVAL_MARGIN without a branching token)."""
        from fde_toolkit.slm.decode import _trie

        trie, stops = _trie(seqs), set(self._stops())
        exact = {tuple(s): i for i, s in reversed(list(enumerate(seqs)))}
        picks, lps, margins = [], [], []
        for p in prompts:
            nodes = self._next_logprobs(p, seqs)
            prefix: list[int] = []
            gaps, own = [], []
            while tuple(prefix) in trie and not (prefix and prefix[-1] in stops):
                kids = trie[tuple(prefix)]
                lp = nodes[tuple(prefix)]
                best = max(kids, key=lambda c: (lp[c], -c))  # ties: the lowest id, as argmax does
                if len(kids) > 1:
                    gaps.append(lp[best] - max(lp[c] for c in kids if c != best))
                own.append(lp[best])
                prefix.append(best)
            picks.append(exact.get(tuple(prefix), 0))
            lps.append(np.array(own))
            margins.append(min(gaps) if gaps else NO_RIVAL_MARGIN)
        return picks, lps, margins

    def _tool_calls(self, prompts: Sequence[list[int]], offered: Sequence[Sequence[str]]):
        """decode.generate_tool_calls with offered tools, and signals.tool_name_margins, from one scoring."""
        from fde_toolkit.slm.decode import TOOL_HEAD, TOOL_TAIL, _common, allowed_tool_names

        preds, margins = [""] * len(prompts), np.zeros(len(prompts))
        groups: dict[tuple[str, ...], list[int]] = {}
        for i, o in enumerate(offered):
            groups.setdefault(tuple(allowed_tool_names(self.tool_names, o)), []).append(i)
        for names, idx in groups.items():
            part = [prompts[i] for i in idx]
            if not names:  # no tool offered: free text
                for i, s in zip(idx, self._generate(part)):
                    preds[i] = self._decode(s)
                continue
            seqs = [self.tok(f"{TOOL_HEAD}{n}{TOOL_TAIL}", add_special_tokens=False)["input_ids"] for n in names]
            head = seqs[0]
            for s in seqs[1:]:
                head = _common(list(head), s)
            rests = [s[len(head):] for s in seqs]
            if any(not r for r in rests):
                head, rests = [], seqs
            if len(names) == 1:
                pick, margin = [0] * len(idx), np.full(len(idx), NO_RIVAL_MARGIN)
            else:
                scores, _ = self._continuations([list(p) + list(head) for p in part], rests)
                pick, margin = scores.argmax(1).tolist(), top_margin(scores)
            tails = self._generate([list(p) + list(head) + list(rests[j]) for p, j in zip(part, pick)])
            for k, (i, j) in enumerate(zip(idx, pick)):
                preds[i] = self._decode(list(head) + list(rests[j]) + tails[k])
                margins[i] = margin[k]
        return preds, margins


def check_vocabulary(tok) -> None:
    """CTranslate2 takes tokens as strings: every id must have its own string."""
    vocab = tok.convert_ids_to_tokens(list(range(len(tok))))
    if len(set(vocab)) != len(vocab):
        raise FdeError("The tokenizer maps two ids to one token string; CTranslate2 cannot run this model. "
                       "Use the eager or merged runtime (hardening.runtimes).")
