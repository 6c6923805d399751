"""SLM-first routing with calibrated escalation to the LLM, and the S6 refinement loop.

    route(eng)                       # `fde route`: routing.yaml (the policy) + routing.json (the evidence)
    Router.from_engagement(path)     # .complete(openai_chat_request) -> chat.completion, SLM or LLM
    drift(eng, new_logs_dir)         # `fde drift`: drift.json, a recommendation per task

Modules, one job each: config (the `routing:` section), calibrate (AUROC, Clopper-Pearson thresholds,
the policy's figures), validators (answers that always escalate), signals (each specialist's
confidence signals), index (which task a new call belongs to), client (the escalation endpoint),
router, step (the `fde route` step), replay, drift.
Heavy imports (torch, transformers) happen inside the functions that need them.
"""
