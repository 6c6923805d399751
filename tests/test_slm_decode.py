"""Decoding inside the allowed answers: labels and tool names, scored or greedy."""

from __future__ import annotations

import json

import pytest
import torch
from slm_toy import (FRUITS, one_thread, tool_corpus, toy_bpe_tokenizer, toy_examples, toy_model,  # noqa: F401
                     toy_tokenizer)

from fde_toolkit.slm.chat import encode_examples, encode_prompts, stop_token_ids
from fde_toolkit.slm.decode import (TOOL_HEAD, TOOL_TAIL, allowed_tool_names, answer_ids, choose_labels, generate,
                                    generate_tool_calls, score_continuations)

pytestmark = pytest.mark.usefixtures("one_thread")
LABELS = ["red", "green", "yellow", "purple", "nice colour", "the colour of a plum"]  # multi-token labels too


@pytest.fixture(scope="module")
def setup():
    tok = toy_tokenizer()
    return tok, toy_model(tok, seed=1), [m for m, _ in toy_examples(12, seed=5)]


def test_label_answers_end_with_the_end_of_turn_token(setup):
    tok, _, _ = setup
    ids = answer_ids(tok, LABELS)
    eot = tok.convert_tokens_to_ids("<|im_end|>")
    assert all(s[-1] == eot for s in ids)
    assert len(ids[-1]) == 6  # "the colour of a plum" + end-of-turn
    assert eot in stop_token_ids(tok)


@pytest.mark.parametrize("mode", ["score", "greedy"])
def test_constrained_label_decoding_returns_only_allowed_labels(setup, mode):
    tok, model, convs = setup
    prompts = encode_prompts(tok, convs)
    free = generate(model, tok, prompts, max_new_tokens=4)
    assert not set(free) <= set(LABELS)  # a random model left free invents answers...
    got = choose_labels(model, tok, prompts, LABELS, mode=mode)
    assert len(got) == len(convs) and set(got) <= set(LABELS)  # ...constrained, it cannot


def test_scores_equal_a_full_forward_per_label(setup):
    tok, model, convs = setup
    prompts = encode_prompts(tok, convs[:3])
    seqs = answer_ids(tok, LABELS)
    fast = score_continuations(model, prompts, seqs, chunk=4)
    for pi, p in enumerate(prompts):
        for li, s in enumerate(seqs):
            ids = torch.tensor([p + s])
            with torch.no_grad():
                logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
            want = sum(logp[len(p) - 1 + j, t].item() for j, t in enumerate(s))
            assert fast[pi, li] == pytest.approx(want, abs=1e-3)
    # the chosen label is the argmax of these scores
    chosen = choose_labels(model, tok, prompts, LABELS, mode="score")
    assert chosen == [LABELS[i] for i in fast.argmax(1)]


def test_tool_calls_start_with_the_forced_name_head_and_pick_the_name_by_score():
    """The decoder forces `{"name": "<tool>", "arguments":` with <tool> scored among the offered names;
    the arguments after it are the model's free greedy continuation (a random model's are noise: never parsed)."""
    tok = toy_bpe_tokenizer(tool_corpus())
    model = toy_model(tok, seed=4)
    names = [f"paint_{c}" for c in FRUITS.values()]
    prompts = encode_prompts(tok, [m for m, _ in toy_examples(8, seed=3)])  # prompts that prefer different tools
    heads = {n: f"{TOOL_HEAD}{n}{TOOL_TAIL}" for n in names}  # the text the decoder forces, one per tool
    head_ids = {n: tok(h, add_special_tokens=False)["input_ids"] for n, h in heads.items()}
    assert not any(t.startswith(TOOL_HEAD) for t in generate(model, tok, prompts, max_new_tokens=12))  # not by luck
    out = generate_tool_calls(model, tok, prompts, names, max_new_tokens=4)
    forced = [[n for n in names if text.startswith(heads[n])] for text in out]
    assert all(len(f) == 1 for f in forced), out  # every answer opens with exactly one offered tool's head
    chosen = [f[0] for f in forced]
    assert all(head in names for head in chosen)
    # the name is the most likely whole head after each prompt (scored here without the decoder's shared-prefix split)
    scores = score_continuations(model, prompts, [head_ids[n] for n in names])
    assert chosen == [names[i] for i in scores.argmax(1)]
    assert len(set(chosen)) > 1  # so the choice follows the prompt, not a fixed position
    assert generate_tool_calls(model, tok, prompts, names[::-1], max_new_tokens=4) == out  # nor the names' order
    # what follows the head is the model's own continuation of prompt + head
    tails = generate(model, tok, [p + head_ids[n] for p, n in zip(prompts, chosen)], max_new_tokens=4)
    assert [text[len(heads[n]):].strip() for text, n in zip(out, chosen)] == tails
    # the training target of a tool call starts with exactly the forced text
    target = json.dumps({"name": "paint_red", "arguments": {"fruit": "x"}})
    enc = encode_examples(tok, [[{"role": "user", "content": "x"}]], [target], 512)[0]
    assert tok.decode(enc.ids[enc.answer_start:]).startswith(f"{TOOL_HEAD}paint_red{TOOL_TAIL}")


class Counter:
    """An open progress bar: counts the examples reported done."""

    def __init__(self):
        self.n, self.updates = 0, 0

    def update(self, n: int = 1) -> None:
        self.n += n
        self.updates += 1


@pytest.mark.parametrize("kind,mode", [("label", "score"), ("label", "greedy"), ("text", "auto"),
                                       ("tool_call", "auto")])
def test_predict_reports_every_example_once_and_answers_the_same(setup, kind, mode):
    from fde_toolkit.slm.decode import predict

    tok, model, convs = setup
    names = None
    if kind == "tool_call":
        tok = toy_bpe_tokenizer(tool_corpus())
        model = toy_model(tok, seed=2)
        names = [f"paint_{c}" for c in sorted(set(FRUITS.values()))]
    kw = dict(labels=LABELS, tool_names=names, max_new_tokens=3, batch_size=5, label_decoding=mode)
    bar = Counter()
    got = predict(model, tok, convs, kind, **kw, progress=bar)
    assert bar.n == len(convs) and bar.updates >= 2  # batches of 5 (one prompt at a time when scoring)
    assert got == predict(model, tok, convs, kind, **kw)  # the bar changes nothing


def test_answer_records_shows_a_bar_with_the_time_left_only_when_asked(setup, capsys):
    from fde_toolkit.slm.answer import answer_records, single_request_latency
    from fde_toolkit.slm.config import FinetuneConfig

    tok, model, convs = setup
    records = [{"messages": c, "target": "red"} for c in convs]
    info = {"output_kind": "label", "labels": LABELS}
    cfg = FinetuneConfig()
    quiet = answer_records(model, tok, records, info, cfg)
    assert capsys.readouterr().err == ""  # off by default (tests, evaluation.py as it is)
    loud = answer_records(model, tok, records, info, cfg, progress="evaluating t01")
    err = capsys.readouterr().err
    assert "evaluating t01" in err and f"{len(records)}/{len(records)}" in err and "example" in err
    assert "<" in err  # tqdm's [elapsed<remaining] estimate
    assert loud["predictions"] == quiet["predictions"]
    answer_records(model, tok, records[:2], info, cfg, progress=True)
    assert "answering" in capsys.readouterr().err
    single_request_latency(model, tok, records[:3], info, cfg, progress=True)
    assert "latency" in capsys.readouterr().err and single_request_latency(model, tok, records[:1], info, cfg)
    assert capsys.readouterr().err == ""


def test_allowed_tool_names_are_the_answers_spelling_of_the_tools_a_request_offers():
    names = ["requests_get", "requests_post", "lookup_policy"]
    assert allowed_tool_names(names) == names
    # a request offers tools as it logged them; the answer names them as the provider logged them
    assert allowed_tool_names(names, ["requests.get", "requests.post"]) == ["requests_get", "requests_post"]
    # a tool never seen in training gets the provider's renaming; no offered tool: every name
    assert allowed_tool_names(names, ["requests.get", "weather.now"]) == ["requests_get", "weather_now"]
    assert allowed_tool_names(names, []) == names and allowed_tool_names([], ["a.b"]) == ["a_b"]
    # one name per tool: the provider-safe spelling wins over the offered one (an old dataset listed both)
    assert allowed_tool_names(["requests.get", "requests_get"]) == ["requests_get"]
    assert allowed_tool_names(["requests.get"]) == ["requests.get"]  # a provider that logs dots keeps them


def test_tool_calls_name_only_a_tool_their_request_offered():
    tok = toy_bpe_tokenizer(tool_corpus())
    model = toy_model(tok, seed=4)
    colours = list(FRUITS.values())
    names = [f"paint_{c}" for c in colours]
    prompts = encode_prompts(tok, [m for m, _ in toy_examples(8, seed=3)])
    free = generate_tool_calls(model, tok, prompts, names, max_new_tokens=4)
    # every request offers all four, spelled with a dot: the answers are the same, spelled as the answers are
    dotted = [[f"paint.{c}" for c in colours]] * len(prompts)
    assert generate_tool_calls(model, tok, prompts, names, max_new_tokens=4, offered=dotted) == free
    # each request offers two: its answer calls one of those two, never a tool of another request
    offered = [[f"paint.{colours[i % 4]}", f"paint.{colours[(i + 1) % 4]}"] for i in range(len(prompts))]
    out = generate_tool_calls(model, tok, prompts, names, max_new_tokens=4, offered=offered)
    for text, own in zip(out, offered):
        picked = [n for n in names if text.startswith(f"{TOOL_HEAD}{n}{TOOL_TAIL}")]
        assert len(picked) == 1 and picked[0].replace("_", ".") in own, (text, own)
    # a tool never seen in training, offered alone, is the answer's tool under the provider's renaming
    alone = generate_tool_calls(model, tok, prompts[:2], names, max_new_tokens=2, offered=[["paint.blue"]] * 2)
    assert all(t.startswith(f"{TOOL_HEAD}paint_blue{TOOL_TAIL}") for t in alone), alone
