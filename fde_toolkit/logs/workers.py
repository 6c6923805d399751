"""S1 ingest's worker processes: how many to start (idle cores, /proc/stat), and the pool that feeds them.

    n = worker_count(sizes)                 # 1 (parse here) for small logs or a busy machine
    pool = WorkerPool(n, workdir)
    handle = pool.submit(segments, part, price_rows)
    chunk = WorkerPool.result(handle)       # answers come back in the order they were asked for

A worker is a fresh interpreter running `worker_main`: it reads a task file (pickled segments), runs
chunks.parse_chunk and writes the Chunk back; WorkerDied tells the caller to carry on in its own process.
"""

from __future__ import annotations

import gc
import os
import pickle
import subprocess
import sys
import time
import traceback
from pathlib import Path

from fde_toolkit.logs.chunks import Chunk, Segment, parse_chunk

# Logs smaller than this are parsed in this process; bigger ones by worker processes.
PARALLEL_MIN_BYTES = 64 << 20
MAX_WORKERS = 4


def idle_cores(cpus: list[int], interval: float = 0.2) -> float | None:
    """How many of `cpus` were idle over a short sample (Linux /proc/stat), or None when unknown."""
    def sample() -> dict[int, tuple[int, int]]:
        out = {}
        with open("/proc/stat", encoding="ascii") as f:
            for line in f:
                name, *vals = line.split()
                if name.startswith("cpu") and name[3:].isdigit() and int(name[3:]) in cpus:
                    ticks = [int(v) for v in vals[:8]]
                    out[int(name[3:])] = (sum(ticks), ticks[3] + ticks[4])
        return out
    try:
        before = sample()
        time.sleep(interval)
        after = sample()
    except (OSError, ValueError, IndexError):
        return None
    idle = 0.0
    for cpu, (total, free) in after.items():
        if cpu in before and total > before[cpu][0]:
            idle += (free - before[cpu][1]) / (total - before[cpu][0])
    return idle if after else None


def worker_count(sizes: list[int]) -> int:
    """Worker processes for this ingest: none for small logs or a busy machine, else one per idle core."""
    if sum(sizes) < PARALLEL_MIN_BYTES:
        return 1
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        cpus = list(range(os.cpu_count() or 1))
    idle = idle_cores(cpus)
    usable = len(cpus) if idle is None else int(idle + 0.5)
    workers = min(MAX_WORKERS, len(cpus), usable)
    return workers if workers >= 2 else 1


class WorkerDied(Exception):
    """A worker process ended without answering."""


class WorkerPool:
    """Worker processes that parse chunks, fed task files through their stdin, answered in order.

    They are fresh interpreters running `worker_main`, so the caller's script is never re-imported in
    them (as multiprocessing's spawn would do) and nothing is forked.
    """

    command = [sys.executable, "-c", "from fde_toolkit.logs.workers import worker_main; worker_main()"]

    def __init__(self, n: int, workdir: Path):
        env = dict(os.environ)
        package_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join([package_root, *filter(None, [env.get("PYTHONPATH")])])
        self.procs = [subprocess.Popen(self.command,
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=workdir)
                      for _ in range(n)]
        self.turn = 0

    def submit(self, segments: list[Segment], part: str, price_rows: list) -> tuple[subprocess.Popen, str]:
        task = part + ".task"
        with open(task, "wb") as f:
            pickle.dump((segments, part, price_rows), f, protocol=pickle.HIGHEST_PROTOCOL)
        proc = self.procs[self.turn % len(self.procs)]
        self.turn += 1
        try:
            proc.stdin.write(task.encode() + b"\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
        except OSError:
            raise WorkerDied() from None
        return proc, task

    @staticmethod
    def result(handle: tuple[subprocess.Popen, str]) -> Chunk:
        proc, task = handle
        done = proc.stdout.readline().decode().strip()  # type: ignore[union-attr]
        if done != task:
            raise WorkerDied()
        with open(task + ".out", "rb") as f:
            out = pickle.load(f)
        os.unlink(task)
        os.unlink(task + ".out")
        if isinstance(out, str):
            raise RuntimeError(f"an ingest worker failed:\n{out}")
        return out

    def close(self) -> None:
        for proc in self.procs:
            try:
                proc.stdin.close()  # type: ignore[union-attr]
            except OSError:
                pass
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = []


def worker_main() -> None:
    """A worker: for each task file named on stdin, parse the chunk, write the answer, name it on stdout."""
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything else printed goes to stderr, not into the answers
    gc.disable()
    for line in sys.stdin:
        task = line.strip()
        try:
            with open(task, "rb") as f:
                segments, part, price_rows = pickle.load(f)
            out: Chunk | str = parse_chunk(segments, part, price_rows)
        except Exception:
            out = traceback.format_exc()
        with open(task + ".out", "wb") as f:
            pickle.dump(out, f, protocol=pickle.HIGHEST_PROTOCOL)
        answer.write(task + "\n")
        answer.flush()
