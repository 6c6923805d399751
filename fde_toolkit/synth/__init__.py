"""The demo customer: Northwind Mutual's claims assistant, as its LLM gateway logged it.

A deterministic generator of a realistic enterprise agent's call logs, used by the demo engagement,
the tests and the benchmarks. Northwind Mutual (a fictional insurer) runs a claims-handling
assistant whose recurring steps are the tasks that later steps must discover and move to SLMs:

    intent_triage       one system prompt, 14 labels, the response is the bare label
    claim_extraction    first-notice-of-loss message -> JSON with 7 fields (response_format json_object)
    tool_call           4 tools offered (OpenAI format); the response is one tool call, content null
    policy_qa           RAG over a fixed knowledge base of 26 policy facts; 1-3 sentence answers
    claim_summary       claim notes (often with long attachments) -> a 2-4 sentence summary
    adjuster_reasoning  open-ended requests from adjusters (~11%): letters, comparisons, analyses

Calls group into sessions (triage -> tool call / extraction -> summary), carry PII (names, emails,
phones in several formats, NWM-123-456789 policy numbers, Luhn-valid card numbers, addresses),
errors (429 / timeout / 500, ~2%) mostly followed by a retry of the same request, and a partial
manual tag (`metadata.workload_id`) on the web channel's triage and extraction calls.

    write_demo_logs(out)             ->  out/gateway/2026-09-01.jsonl.gz ... (OpenAI request/response pairs)
                                         out/otel/mobile-bff-2026-09-01.json ... (OTLP JSON GenAI spans)
    generate_demo_calls(...)         ->  the same records as dicts, in time order, with private keys
    demo_ground_truth(...)           ->  each record's seeded task type and label (never written to disk)

The same arguments give byte-identical files. Nothing here reads the shared data folder at run time:
the shapes fitted on the Azure LLM inference traces are constants in `traffic`.

Modules, one job each: `catalog` (task types, models), `traffic` (fitted shapes, arrival rates), the
vocabulary (`vocab`, `claims`, `knowledge_base`, `text`, `pii`), `story` and `sessions` (seeded
customers, claims and session flows), one module per task generator (named as in TASK_TYPES),
`documents` (long attachments), `plan` (every call's skeleton), `calls` and `records` (rendered
calls), `otel` and `writers` (file formats), `ground_truth`.
"""

from __future__ import annotations

from fde_toolkit.synth.adjuster_reasoning import REASONING_KINDS
from fde_toolkit.synth.catalog import (CLIENT, FRONTIER_MODEL, INTERNAL_MODEL, MINI_MODEL, MODELS, START, T_EXTRACT,
                                       T_QA, T_REASON, T_SUMMARY, T_TOOL, T_TRIAGE, TASK_TYPES)
from fde_toolkit.synth.claim_extraction import EXTRACTION_FIELDS
from fde_toolkit.synth.claims import INCIDENT_TYPES
from fde_toolkit.synth.ground_truth import demo_ground_truth
from fde_toolkit.synth.intent_triage import TRIAGE_LABELS
from fde_toolkit.synth.knowledge_base import KNOWLEDGE_BASE
from fde_toolkit.synth.records import generate_demo_calls
from fde_toolkit.synth.tool_call import TOOL_NAMES, TOOLS
from fde_toolkit.synth.traffic import (AZ_CTX_LOG_MU, AZ_CTX_LOG_SD, AZ_CTX_LONG_LOG_MU, AZ_CTX_LONG_LOG_SD,
                                       AZ_GEN_LONG_LOG_MU, AZ_GEN_LONG_LOG_SD, AZ_MINUTE_EXCESS_CV)
from fde_toolkit.synth.writers import write_demo_logs

__all__ = [
    "CLIENT", "START", "TASK_TYPES", "TRIAGE_LABELS", "TOOLS", "KNOWLEDGE_BASE", "MODELS",
    "FRONTIER_MODEL", "MINI_MODEL", "INTERNAL_MODEL", "EXTRACTION_FIELDS", "INCIDENT_TYPES",
    "generate_demo_calls", "write_demo_logs", "demo_ground_truth",
    # the old module's other public names: tool names, reasoning kinds, task ids, the fitted Azure shapes
    "TOOL_NAMES", "REASONING_KINDS", "T_TRIAGE", "T_EXTRACT", "T_TOOL", "T_QA", "T_SUMMARY", "T_REASON",
    "AZ_CTX_LOG_MU", "AZ_CTX_LOG_SD", "AZ_CTX_LONG_LOG_MU", "AZ_CTX_LONG_LOG_SD", "AZ_GEN_LONG_LOG_MU",
    "AZ_GEN_LONG_LOG_SD", "AZ_MINUTE_EXCESS_CV",
]
