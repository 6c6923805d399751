"""Decoding inside the allowed answers: labels and tool names, scored or greedy."""

from __future__ import annotations

import json

import pytest
import torch
from slm_toy import FRUITS, one_thread, toy_bpe_tokenizer, tool_corpus, toy_examples, toy_model, toy_tokenizer  # noqa: F401

from fde_toolkit.slm.chat import encode_examples, encode_prompts, stop_token_ids
from fde_toolkit.slm.decode import TOOL_HEAD, answer_ids, choose_labels, generate, generate_tool_calls, score_continuations

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


def test_tool_calls_name_an_offered_tool_and_keep_the_json_shape():
    tok = toy_bpe_tokenizer(tool_corpus())
    model = toy_model(tok, seed=2)
    names = [f"paint_{c}" for c in FRUITS.values()]
    convs = [m for m, _ in toy_examples(5, seed=3)]
    out = generate_tool_calls(model, tok, encode_prompts(tok, convs), names, max_new_tokens=4)
    for text in out:
        head = next(n for n in names if text.startswith(f'{TOOL_HEAD}{n}", "arguments":'))
        assert head in names
    # the training target of a tool call starts with exactly the forced text
    enc = encode_examples(tok, [convs[0]], [json.dumps({"name": "paint_red", "arguments": {"fruit": "x"}})], 512)[0]
    assert tok.decode(enc.ids[enc.answer_start:]).startswith(TOOL_HEAD + "paint_red")
