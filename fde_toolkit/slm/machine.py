"""What the machine has to offer a training or decoding run: free CPU cores, and whether bf16 pays.

    torch_threads(cfg.train.threads)      # the setting if there is one, else the cores other processes leave free
    describe_threads(cfg.train.threads)   # {"cores", "load_1min", "own_load", "other_load", "free_cores", ...}
    set_torch_threads(cfg.train.threads)  # torch.set_num_threads(chosen); the same dict, to record
    measure_bf16(step_fn)                 # {"fp32_s_per_step", "bf16_s_per_step", "loss_delta", "chosen", "why"}

Free cores: the CPUs this process may run on (os.sched_getaffinity, where the OS has it, else
os.cpu_count()) minus the 1-minute load average that other processes cause, rounded, at least 1.
The load this process causes itself is its CPU time over its age (user + system, all threads),
which is what it adds to the load average when it is younger than a minute (the usual case: a
command that just loaded its model) and an approximation when older. The load average is the
whole machine's (a container sees its host's), and it counts processes waiting on disk too; where
the OS has none (Windows) every usable CPU counts as free.

bf16: a couple of training steps (forward and backward, no optimizer step) of the same batch in
float32 and under torch.autocast(bfloat16), interleaved; bf16 is chosen only when its fastest step
is faster than float32's by `margin` and its loss is within `tolerance` (relative) of float32's.
Torch is imported inside the functions: importing this module is free.
"""

from __future__ import annotations

import math
import os
import time
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import torch

LOAD_WINDOW_S = 60.0  # the load average below is the 1-minute one


# ----------------------------------------------------------------------------- cores

def usable_cores() -> int:
    """CPUs this process may run on: its affinity mask where the OS has one, else every CPU."""
    if hasattr(os, "sched_getaffinity"):
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except OSError:  # pragma: no cover - a platform that lists it but refuses
            pass
    return max(1, os.cpu_count() or 1)


def load_1min() -> float | None:
    """The machine's 1-minute load average (runnable and waiting processes), or None where the OS has none."""
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return None


def _process_age_s() -> float | None:
    """Seconds since this process started (Linux /proc), or None."""
    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
        return max(0.0, uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"))  # field 22: starttime, in ticks
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def own_load() -> float:
    """The load this process adds: its CPU seconds (user + system, all threads) over its age; 0 when unknown."""
    age = _process_age_s()
    if not age:
        return 0.0
    t = os.times()
    return (t.user + t.system) / age


def describe_threads(setting: int | None = None) -> dict[str, Any]:
    """How many torch threads to use and why: {"cores", "load_1min", "own_load", "other_load", "free_cores",
    "setting", "chosen", "why"}. An explicit `setting` (finetune.train.threads) wins; else the free cores."""
    cores, load = usable_cores(), load_1min()
    own = min(own_load(), load) if load is not None else None
    other = max(0.0, load - own) if load is not None and own is not None else None
    free = cores if other is None else max(1, min(cores, math.floor(cores - other + 0.5)))
    if setting is not None:
        chosen, why = int(setting), f"finetune.train.threads is {setting}"
    elif other is None:
        chosen, why = free, f"{cores} usable CPU(s); no load average on this system: all of them"
    else:
        chosen, why = free, (f"{cores} usable CPU(s), a 1-minute load of {load:.2f} of which {other:.2f} from other "
                             f"processes: {free} free")
    r = (lambda x: None if x is None else round(x, 2))  # noqa: E731
    return {"cores": cores, "load_1min": r(load), "own_load": r(own), "other_load": r(other), "free_cores": free,
            "setting": setting, "chosen": chosen, "why": why}


def free_cores() -> int:
    """Usable CPUs minus the 1-minute load average other processes cause, rounded, at least 1 (module docstring)."""
    return describe_threads(None)["free_cores"]


def torch_threads(setting: int | None) -> int:
    """The torch thread count: the explicit finetune.train.threads `setting` when given, else free_cores()."""
    return int(setting) if setting is not None else free_cores()


def set_torch_threads(setting: int | None) -> dict[str, Any]:
    """torch.set_num_threads(the chosen count); returns describe_threads(setting) to record with the run."""
    import torch

    d = describe_threads(setting)
    torch.set_num_threads(d["chosen"])
    return d


# ----------------------------------------------------------------------------- bf16

def measure_bf16(step_fn: Callable[["torch.dtype | None"], float], steps: int = 2, warmup: int = 1,
                 margin: float = 0.10, tolerance: float = 0.02,
                 clock: Callable[[], float] = time.perf_counter) -> dict[str, Any]:
    """Time `step_fn(None)` (float32) against `step_fn(torch.bfloat16)` (autocast) and choose.

    `step_fn(dtype)` runs one training step (forward and backward) of the same batch with the same
    weights and returns its loss; the caller keeps the model unchanged (no optimizer step) and the
    random state the same for both. After `warmup` untimed calls of each, `steps` timed calls of
    each alternate; the fastest of each counts. bf16 is chosen only when it is faster by `margin`
    (0.10: at least 10%) and its loss is within `tolerance` of float32's, relative
    (|bf16 - fp32| / |fp32|). A bf16 step that fails (an operation without a bf16 kernel) or gives
    a non-finite loss means float32.

    Returns {"fp32_s_per_step", "bf16_s_per_step", "speedup", "fp32_loss", "bf16_loss", "loss_delta",
    "steps", "margin", "tolerance", "chosen": "bf16" | "fp32", "why"}."""
    import torch

    out: dict[str, Any] = {"fp32_s_per_step": None, "bf16_s_per_step": None, "speedup": None, "fp32_loss": None,
                           "bf16_loss": None, "loss_delta": None, "steps": steps, "margin": margin,
                           "tolerance": tolerance}
    t32: list[float] = []
    t16: list[float] = []
    l32: list[float] = []
    l16: list[float] = []

    def timed(dtype, times: list[float], losses: list[float]) -> None:
        t0 = clock()
        loss = float(step_fn(dtype))
        times.append(clock() - t0)
        losses.append(loss)

    for _ in range(warmup):
        step_fn(None)
    try:
        for _ in range(warmup):
            step_fn(torch.bfloat16)
        for _ in range(max(1, steps)):
            timed(None, t32, l32)
            timed(torch.bfloat16, t16, l16)
    except Exception as e:  # noqa: BLE001 - any failure of the bf16 path means float32
        if not t32:
            timed(None, t32, l32)
        out.update(fp32_s_per_step=round(min(t32), 6), fp32_loss=round(l32[0], 6), chosen="fp32",
                   why=f"bf16 autocast failed here ({type(e).__name__}: {str(e)[:160]}): float32")
        return out
    fp32_s, bf16_s = min(t32), min(t16)
    fp32_loss, bf16_loss = sum(l32) / len(l32), sum(l16) / len(l16)
    finite = math.isfinite(fp32_loss) and math.isfinite(bf16_loss)
    delta = abs(bf16_loss - fp32_loss) / max(abs(fp32_loss), 1e-12) if finite else float("inf")
    speedup = fp32_s / bf16_s if bf16_s > 0 else float("inf")
    out.update(fp32_s_per_step=round(fp32_s, 6), bf16_s_per_step=round(bf16_s, 6), speedup=round(speedup, 3),
               fp32_loss=round(fp32_loss, 6), bf16_loss=round(bf16_loss, 6),
               loss_delta=round(delta, 6) if finite else None)
    timing = f"bf16 {bf16_s * 1000:.1f} ms vs float32 {fp32_s * 1000:.1f} ms a step"
    if not finite:
        out.update(chosen="fp32", why=f"the bf16 loss is not finite ({bf16_loss}): float32")
    elif bf16_s > fp32_s * (1 - margin):
        out.update(chosen="fp32", why=f"{timing}: not {margin:.0%} faster, float32")
    elif delta >= tolerance:
        out.update(chosen="fp32", why=f"{timing}, but the loss differs by {delta:.2%} (tolerance {tolerance:.0%}): "
                                      "float32")
    else:
        out.update(chosen="bf16", why=f"{timing} ({speedup:.2f}x), loss within {delta:.2%} of float32: bf16")
    return out
