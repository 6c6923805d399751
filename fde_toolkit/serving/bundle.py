"""`fde bundle`: the deployable folder for one engagement's router and specialists.

    result = bundle(eng)                      # artifacts/bundle (the catalog's `bundle` entry)
    result = bundle(eng, out="/srv/acme")     # anywhere; written atomically (a temporary folder, then moved)

The bundle is itself a small engagement folder, so `cd BUNDLE && fde serve .` starts the same router:

    engagement.yaml          name, client, pii (no key file: the key comes from $FDE_PII_KEY), routing, serve,
                             the candidates the specialists need (a local candidate folder is copied to bases/)
    serve.yaml               the `serve:` section and, per task, the runtime, model folder and base it serves with
    routing.all-llm.yaml     the same policy with every task on the LLM (the rollback)
    requirements.txt         fde-toolkit's dependencies and the runtime packages, pinned (==) to this environment
    RUNBOOK.md               start, stop, health, metrics, rollback, logs, the SLA table, scaling out with vLLM
    bundle.json              every file with its sha256 and size
    artifacts/routing.yaml, artifacts/router/task_index/, artifacts/hardening.json (when measured),
    artifacts/datasets/<task>/dataset.json, artifacts/models/<task>/{training.json, model_card.md, adapter/,
    runtime/<recommended>/}

Per routed task it ships the eager specialist (an encoder's classifier head, a decoder's LoRA adapter in PEFT
format) and, when hardening.json recommends a runtime whose converted folder exists, that folder too.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from fde_toolkit import FdeError, files
from fde_toolkit.step import StepOutputs, StepResult, run_step

if TYPE_CHECKING:
    from fde_toolkit.engagement import Engagement

FORMAT = "fde-bundle/1"
MANIFEST = "bundle.json"
# Imported at serving time whatever fde-toolkit's own list says: the runtimes and the server.
RUNTIME_PACKAGES = ("torch", "transformers", "tokenizers", "safetensors", "peft", "accelerate",
                    "sentence-transformers", "onnxruntime", "onnx", "ctranslate2", "starlette", "uvicorn",
                    "prometheus-client", "numpy", "polars", "pyyaml", "pydantic", "orjson")
SKIP_IN_MODEL = {"checkpoints", "runtime"}  # training checkpoints stay behind; runtimes: only the recommended one


# ----------------------------------------------------------------------------- what goes in

def _policy(eng: "Engagement") -> dict[str, Any]:
    path = eng.artifacts.path("routing_policy")
    if not path.is_file():
        raise FdeError(f"{eng.display(path)}: not found, so there is nothing to deploy. Run `fde route "
                       f"{eng.display_root}` first: it writes the routing policy the bundle serves.")
    try:
        policy = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        policy = None
    if not isinstance(policy, dict) or not isinstance(policy.get("tasks"), dict):
        raise FdeError(f"{eng.display(path)}: not a routing policy (no `tasks:` mapping). Run `fde route "
                       f"{eng.display_root} --force` to write it again.")
    return policy


def recommended(hardening: dict[str, Any] | None, task: str) -> dict[str, Any] | None:
    """hardening.json's recommendation for `task` (None when not measured or nothing passed)."""
    rec = ((hardening or {}).get("tasks") or {}).get(task, {}).get("recommended")
    return rec if isinstance(rec, dict) and rec.get("runtime") else None


def all_llm(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy with every task routed to the LLM: the rollback a runbook switches to."""
    tasks = {}
    for tid, t in policy["tasks"].items():
        tasks[tid] = {**{k: v for k, v in t.items() if k not in ("signal", "threshold", "model")},
                      "route": "llm", "reason": "rollback: every task on the LLM (routing.all-llm.yaml)"}
    return {**policy, "tasks": tasks}


def _dist_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_requirements(extra: tuple[str, ...] = ()) -> list[str]:
    """requirements.txt lines: fde-toolkit's dependencies, the runtime packages and `extra`, each `name==version`
    as installed here (a package not installed here is a comment). A torch with a local build tag (2.5.1+cpu)
    adds the PyTorch index it comes from."""
    from packaging.requirements import Requirement

    names: list[str] = []
    try:
        for spec in metadata.requires("fde-toolkit") or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                names.append(req.name)
    except metadata.PackageNotFoundError:
        pass
    names += [*RUNTIME_PACKAGES, *extra]
    seen: dict[str, str] = {}
    for n in names:
        seen.setdefault(_dist_name(n), n)
    lines, missing, index = [], [], None
    for key in sorted(seen):
        try:
            version = metadata.version(seen[key])
        except metadata.PackageNotFoundError:
            missing.append(key)
            continue
        lines.append(f"{key}=={version}")
        if key == "torch" and "+" in version:
            tag = version.split("+", 1)[1]
            index = f"--extra-index-url https://download.pytorch.org/whl/{tag}"
    try:
        own = [f"fde-toolkit=={metadata.version('fde-toolkit')}"]
    except metadata.PackageNotFoundError:
        own = []
    head = ["# Pinned to the environment `fde bundle` ran in. fde-toolkit itself: install its wheel or your index's",
            "# copy (pip install -r requirements.txt --find-links DIR_WITH_THE_WHEEL)."]
    return head + ([index] if index else []) + own + lines + [f"# not installed where the bundle was made: {m}"
                                                             for m in missing]


def _candidate_package(cand: dict[str, Any]) -> str | None:
    pkg = cand.get("package")
    if not pkg:
        return None
    dists = metadata.packages_distributions().get(pkg) or [pkg]
    return dists[0]


def _copy(src: Path, dest: Path, skip: set[str] = frozenset()) -> None:
    if src.is_dir():
        shutil.copytree(src, dest, ignore=lambda d, names: [n for n in names if Path(d) == src and n in skip],
                        dirs_exist_ok=True)
    else:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dest)


def sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


# ----------------------------------------------------------------------------- the plan

def _plan(eng: "Engagement") -> dict[str, Any]:
    """What the bundle holds per routed task, and the warnings, before anything is copied."""
    policy = _policy(eng)
    hardening = eng.artifacts.optional("hardening")
    warnings: list[str] = []
    if hardening is None:
        warnings.append(f"{eng.display(eng.artifacts.path('hardening'))}: not found, so every specialist is "
                        f"bundled with its eager runtime and the runbook has no SLA table. Run `fde harden "
                        f"{eng.display_root}` and bundle again to ship the measured, recommended runtime.")
    tasks: dict[str, Any] = {}
    candidates: dict[str, dict[str, Any]] = {}
    for tid, t in policy["tasks"].items():
        if t.get("route") != "slm":
            continue
        training = eng.artifacts.read("training", tid)
        eng.artifacts.require("adapter", tid)
        eng.artifacts.require("dataset_info", tid)
        cand = _shipped(training["candidate"])
        candidates[cand["id"]] = cand
        kind = "encoder" if training.get("specialist") == "encoder" else "decoder"
        rec = recommended(hardening, tid)
        runtime = rec["runtime"] if rec else "eager"
        if runtime != "eager" and not eng.artifacts.path("runtime_model", tid, runtime).is_dir():
            warnings.append(f"{tid}: hardening.json recommends {runtime}, but "
                            f"{eng.display(eng.artifacts.path('runtime_model', tid, runtime))} is missing; the eager "
                            f"specialist is bundled and `fde serve` converts on first use. Run `fde harden "
                            f"{eng.display_root} --task {tid}` and bundle again to ship it converted.")
            runtime_folder = None
        else:
            runtime_folder = None if runtime == "eager" else f"artifacts/models/{tid}/runtime/{runtime}"
        tasks[tid] = {"kind": kind, "output_kind": t.get("output_kind"), "specialist": t.get("specialist"),
                      "base": _base_text(cand), "candidate": cand["id"], "runtime": runtime,
                      "runtime_folder": runtime_folder, "eager": f"artifacts/models/{tid}/adapter",
                      "signal": t.get("signal"), "threshold": t.get("threshold"), "target": t.get("target"),
                      "recommended": rec}
    adapters = {tid: eng.artifacts.path("adapter", tid) for tid, t in tasks.items() if t["kind"] == "decoder"}
    if not tasks:
        warnings.append("routing.yaml routes no task to a specialist: the bundle serves every call from the LLM.")
    return {"policy": policy, "hardening": hardening, "tasks": tasks, "candidates": candidates, "warnings": warnings,
            "adapters": adapters}


def _shipped(cand: dict[str, Any]) -> dict[str, Any]:
    """The candidate as the bundle names it: a local folder is copied to bases/<id> (relative to the bundle)."""
    cand = dict(cand)
    if cand.get("folder") and Path(cand["folder"]).expanduser().is_dir():
        cand["source_folder"] = str(Path(cand["folder"]).expanduser().resolve())
        cand["folder"] = f"bases/{cand['id']}"
    return cand


def _public(cand: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cand.items() if k != "source_folder"}


def _base_text(cand: dict[str, Any]) -> str:
    if cand.get("hub"):
        return f"hub:{cand['hub']}"
    if cand.get("package"):
        return f"package:{cand['package']}" + (f"/{cand.get('subfolder') or cand.get('gguf')}"
                                               if cand.get("subfolder") or cand.get("gguf") else "")
    return f"folder:{cand.get('folder')}"


def _inputs(eng: "Engagement", plan: dict[str, Any]) -> list[Path]:
    a = eng.artifacts
    paths = [eng.config_path, a.path("routing_policy"), *sorted(p for p in a.path("task_index").rglob("*")
                                                                if p.is_file())]
    if plan["hardening"] is not None:
        paths.append(a.path("hardening"))
    for tid, t in plan["tasks"].items():
        model = a.path("model", tid)
        paths += [a.path("dataset_info", tid)] + sorted(
            p for p in model.rglob("*") if p.is_file() and p.relative_to(model).parts[0] not in SKIP_IN_MODEL)
        if t["runtime_folder"]:
            paths += sorted(p for p in a.path("runtime_model", tid, t["runtime"]).rglob("*") if p.is_file())
    for cand in plan["candidates"].values():
        if cand.get("source_folder"):
            paths += sorted(p for p in Path(cand["source_folder"]).rglob("*") if p.is_file())
    return paths


# ----------------------------------------------------------------------------- writing

def _engagement_yaml(eng: "Engagement", candidates: list[dict[str, Any]]) -> str:
    cfg = eng.config.model_dump(mode="json", exclude_defaults=True)
    keep = {k: cfg[k] for k in ("name", "client", "seed", "pii", "routing", "serve", "finetune", "hardening", "sla")
            if k in cfg}
    keep["name"] = eng.config.name
    if "pii" in keep:
        keep["pii"].pop("key_file", None)  # the key is never bundled: $FDE_PII_KEY on the serving machine
    keep["candidates"] = candidates
    return ("# The deployed slice of the engagement's engagement.yaml, written by `fde bundle`.\n"
            "# Start from this folder: `fde serve .` (see RUNBOOK.md).\n"
            + yaml.safe_dump(keep, sort_keys=False, allow_unicode=True))


def _point_at_shipped_base(model: Path, cand: dict[str, Any]) -> None:
    """A specialist loads its base from training.json's candidate: name the copy under bases/ instead of the
    engagement machine's folder (package and hub candidates are left as they are)."""
    training = model / "training.json"
    training.write_text(json.dumps({**json.loads(training.read_text(encoding="utf-8")), "candidate": cand},
                                   indent=1, ensure_ascii=False), encoding="utf-8")
    named = model / "adapter" / "fde_candidate.json"
    if named.is_file():
        named.write_text(json.dumps(cand, ensure_ascii=False), encoding="utf-8")


def _write(eng: "Engagement", plan: dict[str, Any], out: Path, requirements: list[str]) -> dict[str, Any]:
    a = eng.artifacts
    art = out / "artifacts"
    _copy(a.path("routing_policy"), art / "routing.yaml")
    _copy(a.path("task_index"), art / "router" / "task_index")
    if plan["hardening"] is not None:
        _copy(a.path("hardening"), art / "hardening.json")
    for cand in plan["candidates"].values():
        if cand.get("source_folder"):  # a local folder would not exist on the serving machine: ship it
            _copy(Path(cand["source_folder"]), out / cand["folder"])
    candidates = [_public(c) for c in plan["candidates"].values()]
    for tid, t in plan["tasks"].items():
        _copy(a.path("dataset_info", tid), art / "datasets" / tid / "dataset.json")
        _copy(a.path("model", tid), art / "models" / tid, skip=SKIP_IN_MODEL)
        if t["runtime_folder"]:
            _copy(a.path("runtime_model", tid, t["runtime"]), out / t["runtime_folder"])
        if plan["candidates"][t["candidate"]].get("source_folder"):
            _point_at_shipped_base(art / "models" / tid, _public(plan["candidates"][t["candidate"]]))
    policy = plan["policy"]
    (out / "engagement.yaml").write_text(_engagement_yaml(eng, candidates), encoding="utf-8")
    (out / "routing.all-llm.yaml").write_text(yaml.safe_dump(all_llm(policy), sort_keys=False), encoding="utf-8")
    serve = eng.config.serve.model_dump(mode="json")
    serve_tasks = {tid: {"route": "slm", "kind": t["kind"], "runtime": t["runtime"],
                         "model": t["runtime_folder"] or t["eager"], "eager": t["eager"], "base": t["base"],
                         **({"batch_size": t["recommended"].get("batch_size")} if t["recommended"] else {})}
                   for tid, t in plan["tasks"].items()}
    serve_tasks.update({tid: {"route": "llm"} for tid, t in policy["tasks"].items() if tid not in plan["tasks"]})
    (out / "serve.yaml").write_text("# How `fde serve` runs this bundle: the serve: section of engagement.yaml and, "
                                    "per task, what it serves.\n"
                                    + yaml.safe_dump({"serve": serve, "tasks": serve_tasks}, sort_keys=False),
                                    encoding="utf-8")
    (out / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    (out / "RUNBOOK.md").write_text(runbook(eng, plan), encoding="utf-8")
    listed = sorted(p for p in out.rglob("*") if p.is_file())
    entries = [{"path": p.relative_to(out).as_posix(), "sha256": sha256(p), "bytes": p.stat().st_size}
               for p in listed]
    manifest = {"format": FORMAT, "engagement": eng.name, "client": eng.config.client,
                "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "fde_toolkit": _version("fde-toolkit"), "start": "fde serve .",
                "tasks": {tid: {k: v for k, v in t.items() if k != "recommended"} for tid, t in plan["tasks"].items()},
                "on_llm": sorted(tid for tid in policy["tasks"] if tid not in plan["tasks"]),
                "warnings": plan["warnings"], "files": entries,
                "bytes": sum(e["bytes"] for e in entries)}
    (out / MANIFEST).write_text(json.dumps(manifest, indent=1, ensure_ascii=False), encoding="utf-8")
    return manifest


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def verify(folder: str | Path) -> list[str]:
    """The files of a bundle whose sha256 or size no longer match bundle.json (empty: intact)."""
    folder = Path(folder)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    bad = []
    for e in manifest["files"]:
        p = folder / e["path"]
        if not p.is_file() or p.stat().st_size != e["bytes"] or sha256(p) != e["sha256"]:
            bad.append(e["path"])
    return bad


def _runtime_text(t: dict[str, Any]) -> str:
    converted = t["runtime"] == "eager" or t.get("runtime_folder")
    return t["runtime"] + ("" if converted else " (not converted yet: `fde serve` converts it on first start)")


def _render(m: dict[str, Any]) -> str:
    lines = [f"Bundle written to {m['out']}: {len(m['files'])} files, {m['bytes'] / 1e6:,.1f} MB "
             f"(manifest {MANIFEST}, runbook RUNBOOK.md)."]
    for tid, t in m["tasks"].items():
        lines.append(f"  {tid}: {t['kind']} specialist {t['specialist']}, runtime {_runtime_text(t)}, base {t['base']}")
    if m["on_llm"]:
        names = ", ".join(m["on_llm"][:8]) + (", …" if len(m["on_llm"]) > 8 else "")
        lines.append(f"  on the LLM: {len(m['on_llm'])} task{'s' if len(m['on_llm']) != 1 else ''} ({names})")
    lines += [f"Warning: {w}" for w in m["warnings"]]
    lines.append(f"Start it: cd {m['out']} && fde serve .   (RUNBOOK.md: keys, health, rollback)")
    return "\n".join(lines)


def bundle(eng: "Engagement", out: str | Path | None = None, force: bool = False) -> StepResult[dict[str, Any]]:
    """`fde bundle`: write the deployable folder to `out` (default artifacts/bundle); see the module docstring.
    Refuses without routing.yaml; warns (in the result) without hardening.json."""
    out = Path(out) if out is not None else eng.artifacts.path("bundle")
    plan = _plan(eng)
    requirements = pinned_requirements(tuple(p for c in plan["candidates"].values()
                                             if (p := _candidate_package(c))))
    inputs = _inputs(eng, plan)
    root = eng.root.resolve()
    if out.resolve().is_relative_to(root / "artifacts" / "models") or root.is_relative_to(out.resolve()):
        raise FdeError(f"{out}: the bundle cannot be written over the engagement or its models. Choose another "
                       "--out folder.")
    if out.is_file() or (out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file()):
        raise FdeError(f"{out}: exists and is not a bundle (no {MANIFEST}); `fde bundle` replaces the whole folder, "
                       "so it only writes to a new or empty folder or over an earlier bundle. Choose another --out.")
    params = {"out": str(out.resolve()), "requirements": requirements, "format": FORMAT}

    def make(outputs: StepOutputs) -> dict[str, Any]:
        with files.replacing(out) as tmp:
            tmp.mkdir(parents=True)
            manifest = _write(eng, plan, tmp, requirements)
        outputs.add(out / MANIFEST)
        outputs.summary = {"files": len(manifest["files"]), "bytes": manifest["bytes"],
                           "runtimes": {tid: t["runtime"] for tid, t in manifest["tasks"].items()}}
        return {**manifest, "out": eng.display(out)}

    def previous() -> dict[str, Any] | None:
        p = out / MANIFEST
        if not p.is_file() or verify(out):
            return None
        return {**json.loads(p.read_text(encoding="utf-8")), "out": eng.display(out)}

    return run_step(eng, "bundle", inputs=inputs, params=params, make=make, previous=previous, render=_render,
                    force=force)


# ----------------------------------------------------------------------------- the runbook

def _ms(v: Any) -> str:
    return "–" if v is None else f"{v:,.1f} ms"


def _md_table(rows: list[list[Any]], head: list[str]) -> str:
    def cell(v: Any) -> str:
        return "–" if v is None else str(v).replace("|", "\\|").replace("\n", " ")

    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                     + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows])


def _check(v: bool | None) -> str:
    return "–" if v is None else ("pass" if v else "FAIL")


def _sla_section(plan: dict[str, Any]) -> str:
    hardening = plan["hardening"]
    if hardening is None:
        return ("Not measured: hardening.json was missing when this bundle was made, so each specialist runs its "
                "eager runtime with no measured service levels. Run `fde harden` on the engagement, then "
                "`fde bundle` again.")
    m = hardening.get("machine") or {}
    out = [f"Measured by `fde harden` on {m.get('cpu') or m.get('platform') or 'this machine'} "
           f"({m.get('cores', '?')} cores, {m.get('threads', '?')} threads"
           + (f", CUDA {m['cuda']}" if m.get("cuda") else "") + "). Latency at batch 1; under load: "
           "concurrent clients against the recommended runtime with dynamic batching.", ""]
    rows = []
    for tid, t in (hardening.get("tasks") or {}).items():
        rec, load = t.get("recommended") or {}, t.get("under_load") or {}
        lim = (t.get("sla") or {}).get("limits") or {}
        lat = rec.get("latency_ms") or {}
        rows.append([tid, rec.get("runtime") or "none passed", rec.get("batch_size"),
                     f"{_ms(lat.get('p50'))} / {_ms(lat.get('p95'))}",
                     None if rec.get("requests_per_s") is None else f"{rec['requests_per_s']:,.1f}",
                     _ms((load.get("latency_ms") or {}).get("p95")) + (f" ({load['concurrency']} clients)"
                                                                       if load.get("concurrency") else ""),
                     _ms((t.get("llm_latency_ms") or {}).get("p50")), _ms(lim.get("p95_ms")),
                     None if rec.get("usd_per_million") is None else f"${rec['usd_per_million']:,.2f}",
                     rec.get("why") or "no configuration met the SLA: the task stays on the eager runtime"])
    out.append(_md_table(rows, ["task", "recommended", "batch", "p50 / p95", "requests/s", "p95 under load",
                                "LLM p50 (logged)", "SLA p95", "USD per 1M requests", "why"]))
    for tid, t in (hardening.get("tasks") or {}).items():
        sla = t.get("sla") or {}
        if not sla.get("rows"):
            continue
        lim = sla.get("limits") or {}
        limits = ", ".join(f"{k} {v:g}" for k, v in lim.items()
                           if isinstance(v, (int, float)) and not isinstance(v, bool)) or "none set"
        out += ["", f"### {tid}: SLA checks (limits: {limits})", ""]
        out.append(_md_table([[r.get("runtime"), r.get("batch_size"), _ms(r.get("p95_ms")),
                               None if r.get("requests_per_s") is None else f"{r['requests_per_s']:,.1f}",
                               None if r.get("quality") is None else f"{r['quality']:.3f}",
                               None if r.get("peak_memory_mb") is None else f"{r['peak_memory_mb']:,.0f} MB",
                               ", ".join(f"{k} {_check(v)}" for k, v in (r.get("checks") or {}).items()),
                               "PASS" if r.get("passed") else "fail"] for r in sla["rows"]],
                             ["runtime", "batch", "p95", "requests/s", "quality", "peak memory", "checks", "result"]))
    for tid, reason in (hardening.get("skipped") or {}).items():
        out.append(f"\n{tid}: not benchmarked ({reason}).")
    return "\n".join(out)


def _vllm_section(plan: dict[str, Any]) -> str:
    decoders = {tid: t for tid, t in plan["tasks"].items() if t["kind"] == "decoder"}
    encoders = [tid for tid, t in plan["tasks"].items() if t["kind"] == "encoder"]
    out = ["When one CPU box is no longer enough, the decoder specialists' LoRA adapters (PEFT format, under "
           "`artifacts/models/<task>/adapter/`) serve from one GPU with vLLM's multi-LoRA server: one copy of the "
           "base model, every adapter on top, chosen per request by `model`. vLLM serves the adapters only: the "
           "confidence threshold and the escalation to the LLM (routing.yaml) stay with `fde serve`'s router.", ""]
    by_base: dict[str, list[str]] = {}
    for tid, t in decoders.items():
        by_base.setdefault(t["candidate"], []).append(tid)
    for cid, tids in by_base.items():
        cand = plan["candidates"][cid]
        base = cand.get("hub") or (cand["folder"] if cand.get("source_folder") and not cand.get("gguf") else None)
        if base is None:  # a GGUF or package candidate: vLLM wants the transformers weights it came from
            out += [f"`BASE_MODEL` below: the transformers (safetensors) weights candidate `{cid}` was made from "
                    f"({_base_text(cand)}), as a hub id or a folder.", ""]
            base = "BASE_MODEL"
        ranks = [_lora_rank(plan, t) for t in tids]
        rank = max([r for r in ranks if r] or [16])
        mods = " ".join(f"{t}=artifacts/models/{t}/adapter" for t in tids)
        out += ["```bash", f"vllm serve {base} \\", f"  --enable-lora --max-loras {len(tids)} --max-lora-rank "
                f"{_vllm_rank(rank)} \\", f"  --lora-modules {mods} \\", "  --host 0.0.0.0 --port 8001", "```", "",
                f"A request with `\"model\": \"{tids[0]}\"` is answered by that task's adapter."]
    if not decoders:
        out.append("No decoder specialist is routed in this bundle, so there is no adapter to serve with vLLM.")
    if encoders:
        out += ["", f"Encoder specialists ({', '.join(encoders)}) have no vLLM path: they are a classifier head on "
                "a sentence encoder, not a LoRA on a generative model. Scale them by running more `fde serve` "
                "replicas behind a load balancer (each replica is independent; give each its own log folder)."]
    return "\n".join(out)


def _vllm_rank(rank: int) -> int:
    """vLLM's --max-lora-rank takes powers of two from 8 up: the smallest one that holds `rank`."""
    r = 8
    while r < rank:
        r *= 2
    return r


def _lora_rank(plan: dict[str, Any], tid: str) -> int | None:
    """The LoRA rank `r` of a decoder task's adapter (adapter_config.json), for vLLM's --max-lora-rank."""
    path = plan.get("adapters", {}).get(tid)
    try:
        return int(json.loads((Path(path) / "adapter_config.json").read_text(encoding="utf-8"))["r"])
    except (TypeError, OSError, ValueError, KeyError):
        return None


def runbook(eng: "Engagement", plan: dict[str, Any]) -> str:
    """RUNBOOK.md for the bundle `plan` describes (the operator's page: start, stop, watch, roll back)."""
    s, rc = eng.config.serve, eng.config.routing
    url = f"http://{s.host}:{s.port}"
    routing = eng.artifacts.optional("routing") or {"tasks": {}}
    title = f"{eng.config.client or eng.name}: serving runbook"
    lines = [f"# {title}", "",
             f"Written by `fde bundle` on {datetime.now(timezone.utc):%Y-%m-%d} from engagement `{eng.name}` "
             f"(fde-toolkit {_version('fde-toolkit') or 'unknown'}). Every file is listed with its sha256 in "
             f"`{MANIFEST}`.", ""]
    lines += ["## What is served", ""]
    rows = []
    for tid, t in plan["tasks"].items():
        r = routing["tasks"].get(tid, {})
        rows.append([tid, r.get("name") or "", f"{t['kind']} `{t['specialist']}`", _runtime_text(t), f"`{t['base']}`",
                     f"{t['signal']} ≥ {t['threshold']:.4g}" if t.get("threshold") is not None else None,
                     None if r.get("offload_share") is None else f"{r['offload_share']:.0%}"])
    lines += [_md_table(rows, ["task", "name", "answered by", "runtime", "base model", "kept when",
                               "calls kept (test split)"]) if rows else "No task is routed to a specialist.", ""]
    on_llm: dict[str, list[str]] = {}
    for tid, t in plan["policy"]["tasks"].items():
        if tid not in plan["tasks"]:
            why = re.split(r"[:(]", t.get("reason") or "", maxsplit=1)[0].strip() or "routed to the LLM"
            on_llm.setdefault(why, []).append(tid)
    if on_llm:
        lines += [f"Every call of the other {sum(map(len, on_llm.values()))} tasks goes to the LLM:", ""]
        lines += [f"- {why}: {', '.join(tids)}" for why, tids in on_llm.items()] + [""]
    if plan["warnings"]:
        lines += ["Warnings when the bundle was made:", "", *(f"- {w}" for w in plan["warnings"]), ""]
    lines += ["## Install", "", "```bash", "python3 -m venv .venv && . .venv/bin/activate",
              "pip install -r requirements.txt --find-links DIR_WITH_THE_FDE_TOOLKIT_WHEEL", "```", ""]
    for cid, cand in plan["candidates"].items():
        if cand.get("hub"):
            lines.append(f"- Base `{cid}` loads from the local Hugging Face cache only: on a machine with access, "
                         f"`huggingface-cli download {cand['hub']}` and copy the cache (`HF_HOME`) over.")
        elif cand.get("package"):
            lines.append(f"- Base `{cid}` ships in the Python package `{cand['package']}` (in requirements.txt).")
        else:
            lines.append(f"- Base `{cid}` is in `bases/{cid}/` (copied from the engagement's folder).")
    lines += ["", "## Secrets (environment variables, never in this folder)", "",
              "- `FDE_PII_KEY`: the engagement's PII key. Requests are scrubbed with it before any model sees "
              "them; use the same key as the engagement"
              + (f" (its pii.key_file, {eng.config.pii.key_file})" if eng.config.pii.key_file else "")
              + " so pseudonyms in the served logs match its data.",
              f"- `{s.api_key_env}`: the Bearer key clients must send (required when bound beyond loopback).",
              f"- `{rc.escalation.api_key_env}`: the key of the LLM endpoint escalated calls go to "
              f"({rc.escalation.url or 'routing.escalation.url: set it in engagement.yaml'}).", ""]
    lines += ["## Start", "", "```bash", "cd THIS_FOLDER", f"export FDE_PII_KEY=... {s.api_key_env}=... "
              f"{rc.escalation.api_key_env}=...", f"fde serve . --host {s.host} --port {s.port}", "```", "",
              f"Clients use any OpenAI SDK with `base_url={url}/v1` and the key above; `model` is `auto` (the "
              f"router picks the task) or a task's specialist (`GET {url}/v1/models` lists them).", "",
              "As a service (systemd):", "", "```ini", "[Service]", "WorkingDirectory=/srv/THIS_FOLDER",
              "EnvironmentFile=/etc/fde/serve.env", f"ExecStart=/srv/THIS_FOLDER/.venv/bin/fde serve . --host "
              f"{s.host} --port {s.port}", "Restart=on-failure", "KillSignal=SIGTERM", "```", ""]
    lines += ["## Stop", "", "Ctrl-C in the foreground, `kill -TERM PID`, or `systemctl stop` for the unit: the "
              "server stops accepting connections, finishes the requests in flight, then exits.", ""]
    lines += ["## Health and metrics", "", f"- `curl {url}/health`: 200 while the server is up and its router "
              f"loaded.", f"- `curl {url}/metrics`: Prometheus text (requests, escalations, latency histogram). "
              "Scrape it and watch:",
              "  - the escalation share per task against the expected one (1 − calls kept, table above): a rise "
              "means the traffic moved away from what the specialist was trained on; run `fde drift` (below);",
              "  - p95 latency against the SLA p95 (table below);",
              f"  - 429 responses: the queue is full (serve.queue_size {s.queue_size}); add a replica;",
              f"  - 504 and 5xx: requests over serve.timeout_s ({s.timeout_s:g} s) or failing; read the log.", ""]
    lines += ["## Logs", "", f"Every call is appended as a canonical call record (JSONL) under `{s.log_dir}/` "
              "(relative to this folder). The server's own messages go to stdout/stderr (the terminal or the "
              "journal). To check the new traffic against the engagement, copy the folder to the engagement's "
              "machine and run:", "", "```bash", f"fde drift {eng.display_root} --logs PATH/TO/{s.log_dir}",
              "```", "", "It reports task mix, input and outcome shift per week and a keep / retrain / new-task "
              "recommendation per task.", ""]
    lines += ["## Roll back to all-LLM", "", "`routing.all-llm.yaml` is the same policy with every task on the "
              "LLM: calls go to the escalation endpoint unchanged and are still logged.", "", "```bash",
              "cp artifacts/routing.yaml artifacts/routing.slm.yaml   # keep the calibrated policy",
              "cp routing.all-llm.yaml artifacts/routing.yaml", "# restart fde serve (Stop, then Start)", "```", "",
              "Back to the specialists: `cp artifacts/routing.slm.yaml artifacts/routing.yaml` and restart. One task "
              "only: set its `route:` to `llm` in artifacts/routing.yaml and restart. If the server itself is the "
              "problem, point the clients back at the LLM endpoint directly.", ""]
    lines += ["## Service levels", "", _sla_section(plan), ""]
    lines += ["## Scaling out: vLLM multi-LoRA on a GPU", "", _vllm_section(plan), ""]
    return "\n".join(lines)
