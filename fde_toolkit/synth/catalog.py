"""What the demo customer runs: its task types, models, sink channels and call statuses."""

from __future__ import annotations

from datetime import datetime, timezone

CLIENT = "Northwind Mutual"
START = datetime(2026, 9, 1, tzinfo=timezone.utc)

TASK_TYPES = ("intent_triage", "claim_extraction", "tool_call", "policy_qa", "claim_summary",
              "adjuster_reasoning")
T_TRIAGE, T_EXTRACT, T_TOOL, T_QA, T_SUMMARY, T_REASON = range(6)

FRONTIER_MODEL = "gpt-4o-2024-08-06"
MINI_MODEL = "gpt-4o-mini-2024-07-18"
INTERNAL_MODEL = "northwind-ft-claims-v1"  # self-hosted, no public price: the profile flags it
MODELS = (FRONTIER_MODEL, MINI_MODEL, INTERNAL_MODEL)

_CH_WEB, _CH_PHONE, _CH_MOBILE, _CH_DESK = range(4)  # where a session comes from (mobile goes to OTel)
_ST_OK, _ST_429, _ST_TIMEOUT, _ST_500 = range(4)  # how a call ended
