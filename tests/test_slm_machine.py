"""The machine's offer: free cores for torch threads, and bf16 only where it is faster and loses nothing."""

from __future__ import annotations

import os

import pytest
import torch

import fde_toolkit.slm.machine as machine
from fde_toolkit.slm.machine import describe_threads, free_cores, measure_bf16, torch_threads


@pytest.fixture
def box(monkeypatch):
    """A fake machine: set["cores"], ["load"] (None: no load average) and ["own"] (this process's load)."""
    state = {"cores": 8, "load": 0.0, "own": 0.0}
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(state["cores"])), raising=False)

    def loadavg():
        if state["load"] is None:
            raise OSError("no load average")
        return (state["load"], 0.0, 0.0)

    monkeypatch.setattr(os, "getloadavg", loadavg, raising=False)
    monkeypatch.setattr(machine, "own_load", lambda: state["own"])
    return state


def test_free_cores_are_the_usable_ones_less_the_load_of_other_processes(box) -> None:
    assert free_cores() == 8  # an idle machine
    box.update(load=3.2)
    assert free_cores() == 5
    box.update(load=3.2, own=1.0)  # this process's own load is not someone else's
    assert free_cores() == 6
    box.update(load=2.6, own=0.0)
    assert free_cores() == 5  # rounded: 5.4
    box.update(load=30.0)
    assert free_cores() == 1  # at least one
    box.update(load=None)
    assert free_cores() == 8  # no load average (Windows): every usable CPU
    box.update(cores=2, load=0.2, own=0.9)  # own load above the machine's: the others' is 0, not negative
    assert free_cores() == 2


def test_the_threads_setting_wins_and_the_choice_is_described(box) -> None:
    box.update(cores=4, load=2.5, own=0.5)
    d = describe_threads()
    assert d == {"cores": 4, "load_1min": 2.5, "own_load": 0.5, "other_load": 2.0, "free_cores": 2, "setting": None,
                 "chosen": 2, "why": "4 usable CPU(s), a 1-minute load of 2.50 of which 2.00 from other processes: "
                                     "2 free"}
    assert torch_threads(None) == 2
    assert torch_threads(3) == 3
    pinned = describe_threads(3)
    assert pinned["chosen"] == 3 and pinned["free_cores"] == 2 and pinned["why"] == "finetune.train.threads is 3"
    box.update(load=None)
    assert describe_threads()["why"].endswith("no load average on this system: all of them")


def test_the_real_machine_gives_a_sane_answer() -> None:
    d = describe_threads()
    assert 1 <= d["chosen"] == d["free_cores"] <= d["cores"] <= (os.cpu_count() or 1)
    assert machine.own_load() >= 0.0


def test_set_torch_threads_sets_and_records_the_choice(box) -> None:
    before = torch.get_num_threads()
    try:
        box.update(cores=3, load=1.0)
        d = machine.set_torch_threads(None)
        assert d["chosen"] == 2 and torch.get_num_threads() == 2
        assert machine.set_torch_threads(1)["chosen"] == 1 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


class FakeSteps:
    """step_fn for measure_bf16 on a fake clock: each dtype takes its seconds and gives its loss."""

    def __init__(self, fp32=(0.10, 2.0), bf16=(0.05, 2.0), fail: Exception | None = None):
        self.now, self.calls = 0.0, []
        self.spec = {None: fp32, torch.bfloat16: bf16}
        self.fail = fail

    def clock(self) -> float:
        return self.now

    def __call__(self, dtype) -> float:
        self.calls.append(dtype)
        if dtype is torch.bfloat16 and self.fail is not None:
            raise self.fail
        seconds, loss = self.spec[dtype]
        self.now += seconds
        return loss


def test_bf16_is_chosen_only_when_clearly_faster_and_as_good() -> None:
    fast = FakeSteps(fp32=(0.10, 2.0), bf16=(0.05, 2.01))
    r = measure_bf16(fast, clock=fast.clock)
    assert r["chosen"] == "bf16" and r["fp32_s_per_step"] == 0.1 and r["bf16_s_per_step"] == 0.05
    assert r["speedup"] == 2.0 and r["loss_delta"] == pytest.approx(0.005) and "2.00x" in r["why"]
    assert fast.calls == [None, torch.bfloat16, None, torch.bfloat16, None, torch.bfloat16]  # warm-up, then alternate
    assert set(r) >= {"fp32_s_per_step", "bf16_s_per_step", "loss_delta", "chosen", "why"}

    barely = FakeSteps(fp32=(0.10, 2.0), bf16=(0.095, 2.0))  # 5% faster: below the 10% margin
    r = measure_bf16(barely, clock=barely.clock)
    assert r["chosen"] == "fp32" and "not 10% faster" in r["why"]

    slower = FakeSteps(fp32=(0.10, 2.0), bf16=(0.20, 2.0))
    assert measure_bf16(slower, clock=slower.clock)["chosen"] == "fp32"

    lossy = FakeSteps(fp32=(0.10, 2.0), bf16=(0.05, 2.2))  # twice as fast, but 10% off in loss
    r = measure_bf16(lossy, clock=lossy.clock)
    assert r["chosen"] == "fp32" and r["loss_delta"] == pytest.approx(0.1) and "differs by 10.00%" in r["why"]

    nan = FakeSteps(fp32=(0.10, 2.0), bf16=(0.05, float("nan")))
    r = measure_bf16(nan, clock=nan.clock)
    assert r["chosen"] == "fp32" and r["loss_delta"] is None and "not finite" in r["why"]


def test_a_bf16_step_that_fails_means_float32() -> None:
    broken = FakeSteps(fail=RuntimeError("no bf16 kernel for this op"))
    r = measure_bf16(broken, clock=broken.clock)
    assert r["chosen"] == "fp32" and r["bf16_s_per_step"] is None and r["fp32_s_per_step"] == 0.1
    assert "RuntimeError: no bf16 kernel" in r["why"]
