"""The plan: every call's skeleton, drawn with numpy (vectorised), then sorted in time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fde_toolkit.synth.adjuster_reasoning import _REASON_P, REASONING_KINDS
from fde_toolkit.synth.catalog import (_CH_DESK, _CH_MOBILE, _CH_PHONE, _CH_WEB, _ST_429, _ST_500, _ST_OK, _ST_TIMEOUT,
                                       START, T_EXTRACT, T_QA, T_REASON, T_SUMMARY, T_TOOL, T_TRIAGE)
from fde_toolkit.synth.claims import _INCIDENT_P, INCIDENT_TYPES
from fde_toolkit.synth.intent_triage import _OTHER_LABEL_P, _OTHER_LABELS, TRIAGE_LABELS
from fde_toolkit.synth.knowledge_base import KNOWLEDGE_BASE
from fde_toolkit.synth.sessions import _FLOW_LABEL, _FLOWS
from fde_toolkit.synth.tool_call import _LABEL_TOOL, TOOL_NAMES
from fde_toolkit.synth.vocab import _ALNUM
from fde_toolkit.synth.traffic import (_DIURNAL_ADJUSTER, _DIURNAL_CUSTOMER, _WEEKDAY_ADJUSTER, _WEEKDAY_CUSTOMER,
                                       AZ_CTX_LOG_MU, AZ_CTX_LOG_SD, AZ_CTX_LONG_LOG_MU, AZ_CTX_LONG_LOG_SD,
                                       AZ_GEN_LONG_LOG_MU, AZ_GEN_LONG_LOG_SD, _intensity, _lognormal, _sample_times)

# Model routing, P(frontier, mini, internal) by task; triage moved to mini 40% into the window.
_ROUTING = {T_TRIAGE: (0.45, 0.55, 0.0), T_EXTRACT: (0.70, 0.30, 0.0), T_TOOL: (0.55, 0.45, 0.0),
            T_QA: (0.20, 0.62, 0.18), T_SUMMARY: (0.55, 0.30, 0.15), T_REASON: (1.0, 0.0, 0.0)}
_TRIAGE_ROUTING_LATE = (0.08, 0.92, 0.0)


@dataclass
class _Plan:
    """Every record's skeleton (what, when, which model, how it ended) and every session's draws."""

    start_us: int
    # per record, in time order
    ts_us: np.ndarray
    sess: np.ndarray
    step: np.ndarray
    attempt: np.ndarray
    task: np.ndarray
    label: np.ndarray
    model: np.ndarray
    status: np.ndarray
    err_ms: np.ndarray
    noise: np.ndarray
    load: np.ndarray
    ctx: np.ndarray
    gen: np.ndarray
    rid: np.ndarray  # 'S29' base62 response ids
    span: np.ndarray
    # per session
    s_flow: np.ndarray
    s_user: np.ndarray
    s_insured: np.ndarray
    s_channel: np.ndarray
    s_label: np.ndarray
    s_incident: np.ndarray
    s_kb: np.ndarray
    s_sid: np.ndarray
    s_trace: np.ndarray
    s_day: np.ndarray
    # record position -> defect ("truncated", "nul", "negative_latency", "logged_twice")
    defects: dict[int, list[str]]


@dataclass(frozen=True)
class _FlowTable:
    """The session flows as arrays: steps per flow, draw probability, adjuster flag, task per step (-1 after)."""

    length: np.ndarray
    p: np.ndarray
    adjuster: np.ndarray
    steps: np.ndarray


@dataclass
class _Sessions:
    """Per session: flow, adjuster flag, channel, user and insured ids, labels, ids, start time and load."""

    flow: np.ndarray
    adj: np.ndarray
    channel: np.ndarray
    user: np.ndarray
    insured: np.ndarray
    label: np.ndarray  # triage label, -1 for flows without triage
    incident: np.ndarray
    kb: np.ndarray
    sid: np.ndarray
    trace: np.ndarray
    start: np.ndarray  # microseconds from the window start, before sessions are kept inside the window
    load: np.ndarray  # relative arrival rate at the session's start minute


@dataclass
class _Calls:
    """Per logical call (a retry repeats one): session, step, task, label, model, context and answer lengths."""

    sess: np.ndarray
    step: np.ndarray
    task: np.ndarray
    label: np.ndarray
    model: np.ndarray
    ctx: np.ndarray
    gen: np.ndarray


@dataclass
class _Attempts:
    """Per logical call: first and second attempt failed, the error type, and how many attempts were logged."""

    e1: np.ndarray
    e2: np.ndarray
    etype: np.ndarray
    n_att: np.ndarray


def _flow_table() -> _FlowTable:
    f_len = np.array([len(f[1]) for f in _FLOWS])
    f_p = np.array([f[2] for f in _FLOWS]) / sum(f[2] for f in _FLOWS)
    f_adj = np.array([f[3] for f in _FLOWS])
    steps = np.full((len(_FLOWS), 3), -1, dtype=np.int8)
    for i, f in enumerate(_FLOWS):
        steps[i, :len(f[1])] = f[1]
    return _FlowTable(f_len, f_p, f_adj, steps)


def _draw_channels(rng: np.random.Generator, adj: np.ndarray, p_mobile: float) -> np.ndarray:
    """Adjusters use the desk app; customers the mobile app (p_mobile), else web or phone."""
    S = adj.size
    u_ch = rng.random(S)
    return np.where(adj, _CH_DESK, np.where(u_ch < p_mobile, _CH_MOBILE,
                                            np.where(rng.random(S) < 0.65, _CH_WEB, _CH_PHONE))).astype(np.int8)


def _draw_people(rng: np.random.Generator, adj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(user, insured) per session: customers come back (skewed draw) and are their own insured;
    an adjuster (one of 36) works on any customer's claim."""
    S = adj.size
    n_cust = max(20, int(S * 0.7))
    cust = (n_cust * rng.random(S) ** 1.5).astype(np.int32)  # repeat customers
    insured = (n_cust * rng.random(S)).astype(np.int32)
    user = np.where(adj, (rng.random(S) * 36).astype(np.int32), cust)
    insured = np.where(adj, insured, cust)
    return user, insured


def _draw_session_labels(rng: np.random.Generator, flow: np.ndarray) -> np.ndarray:
    """The triage label each session's flow implies; the "other" flow draws one of the other labels."""
    s_label = np.full(flow.size, -1, dtype=np.int16)
    for name, lab in _FLOW_LABEL.items():
        s_label[flow == [f[0] for f in _FLOWS].index(name)] = TRIAGE_LABELS.index(lab)
    other = flow == [f[0] for f in _FLOWS].index("other")
    s_label[other] = np.array([TRIAGE_LABELS.index(x) for x in _OTHER_LABELS])[
        rng.choice(len(_OTHER_LABELS), size=int(other.sum()), p=_OTHER_LABEL_P)]
    return s_label


def _draw_start_times(rng: np.random.Generator, days: int, adj: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(start in microseconds, relative load) per session, from the customers' or the adjusters' arrival rates."""
    S = adj.size
    w_c = _intensity(START, days, _DIURNAL_CUSTOMER, _WEEKDAY_CUSTOMER, rng)
    w_a = _intensity(START, days, _DIURNAL_ADJUSTER, _WEEKDAY_ADJUSTER, rng)
    s_start = np.where(adj, _sample_times(w_a, S, rng), _sample_times(w_c, S, rng))
    rel_c, rel_a = w_c / w_c.mean(), w_a / w_a.mean()
    minute = np.minimum(s_start // 60_000_000, w_c.size - 1)
    return s_start, np.where(adj, rel_a[minute], rel_c[minute])


def _draw_sessions(rng: np.random.Generator, n_calls: int, days: int, otel_share: float,
                   ft: _FlowTable) -> _Sessions:
    """Enough sessions to cover n_calls records with retries."""
    calls_per_session = float((ft.length * ft.p).sum())
    customer_share = float((ft.length * ft.p * ~ft.adjuster).sum()) / calls_per_session
    p_mobile = min(1.0, otel_share / customer_share)
    S = int(n_calls / calls_per_session / 0.97) + 16
    flow = rng.choice(len(_FLOWS), size=S, p=ft.p).astype(np.int8)
    adj = ft.adjuster[flow]
    channel = _draw_channels(rng, adj, p_mobile)
    user, insured = _draw_people(rng, adj)
    s_label = _draw_session_labels(rng, flow)
    incident = rng.choice(len(INCIDENT_TYPES), size=S, p=_INCIDENT_P).astype(np.int16)
    kb = rng.integers(0, len(KNOWLEDGE_BASE), S).astype(np.int16)
    sid = rng.integers(0, 2**63 - 1, S, dtype=np.int64)
    trace = rng.integers(0, 2**63 - 1, (S, 2), dtype=np.int64)
    s_start, s_load = _draw_start_times(rng, days, adj)
    return _Sessions(flow, adj, channel, user, insured, s_label, incident, kb, sid, trace, s_start, s_load)


def _expand_flows(flow: np.ndarray, ft: _FlowTable) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(session, step, task) per logical call: each session's flow laid out step by step."""
    f_len = ft.length
    c_sess = np.repeat(np.arange(flow.size, dtype=np.int32), f_len[flow])
    first = np.cumsum(f_len[flow]) - f_len[flow]
    c_step = (np.arange(c_sess.size) - np.repeat(first, f_len[flow])).astype(np.int8)
    return c_sess, c_step, ft.steps[flow[c_sess], c_step]


def _draw_call_labels(rng: np.random.Generator, ss: _Sessions, c_sess: np.ndarray, c_step: np.ndarray,
                      c_task: np.ndarray) -> np.ndarray:
    """Each call's label: triage label, tool index, KB entry (a session's first Q&A asks its own), incident type,
    reasoning kind."""
    C = c_sess.size
    c_label = np.full(C, -1, dtype=np.int16)
    is_t = c_task == T_TRIAGE
    c_label[is_t] = ss.label[c_sess[is_t]]
    is_tool = c_task == T_TOOL
    tool_of = np.array([TOOL_NAMES.index(_LABEL_TOOL[x]) if x in _LABEL_TOOL else -1 for x in TRIAGE_LABELS],
                       dtype=np.int16)
    c_label[is_tool] = tool_of[ss.label[c_sess[is_tool]]]
    is_qa = c_task == T_QA
    first_qa = is_qa & ((c_step == 0) | (c_task[np.maximum(np.arange(C) - 1, 0)] != T_QA))
    c_label[is_qa] = rng.integers(0, len(KNOWLEDGE_BASE), int(is_qa.sum()))
    c_label[first_qa] = ss.kb[c_sess[first_qa]]
    is_x = (c_task == T_EXTRACT) | (c_task == T_SUMMARY)
    c_label[is_x] = ss.incident[c_sess[is_x]]
    is_r = c_task == T_REASON
    c_label[is_r] = rng.choice(len(REASONING_KINDS), size=int(is_r.sum()), p=_REASON_P)
    return c_label


def _route_models(rng: np.random.Generator, c_task: np.ndarray, late: np.ndarray) -> np.ndarray:
    """Each call's model index by _ROUTING (a retry keeps the request, so the model is drawn per logical call)."""
    C = c_task.size
    u_m = rng.random(C)
    c_model = np.zeros(C, dtype=np.int8)
    for t, probs in _ROUTING.items():
        if t == T_TRIAGE:
            pr = np.where(late[:, None], np.array(_TRIAGE_ROUTING_LATE), np.array(probs))
        else:
            pr = np.broadcast_to(np.array(probs), (C, 3))
        sel = c_task == t
        cum = np.cumsum(pr[sel], axis=1)
        c_model[sel] = (u_m[sel][:, None] > cum[:, :2]).sum(axis=1)
    return c_model


def _draw_lengths(rng: np.random.Generator, c_task: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(document tokens, answer tokens) per call, shaped on the Azure conversation trace; 0 where fixed by text."""
    C = c_task.size
    c_ctx = np.zeros(C, dtype=np.int32)
    c_gen = np.zeros(C, dtype=np.int32)
    n_sum = int((c_task == T_SUMMARY).sum())
    c_ctx[c_task == T_SUMMARY] = _lognormal(rng, AZ_CTX_LOG_MU, AZ_CTX_LOG_SD, n_sum, 250, 12000)
    is_r = c_task == T_REASON
    nr = int(is_r.sum())
    long_mode = rng.random(nr) < 0.55
    c_ctx[is_r] = np.where(long_mode, _lognormal(rng, AZ_CTX_LONG_LOG_MU, AZ_CTX_LONG_LOG_SD, nr, 1500, 14000),
                           _lognormal(rng, AZ_CTX_LOG_MU, AZ_CTX_LOG_SD, nr, 300, 14000))
    c_gen[is_r] = _lognormal(rng, AZ_GEN_LONG_LOG_MU, AZ_GEN_LONG_LOG_SD, nr, 150, 1000)
    is_e = c_task == T_EXTRACT
    ne = int(is_e.sum())
    c_ctx[is_e] = np.where(rng.random(ne) < 0.25, _lognormal(rng, AZ_CTX_LOG_MU, AZ_CTX_LOG_SD, ne, 200, 6000), 0)
    return c_ctx, c_gen


def _draw_calls(rng: np.random.Generator, ss: _Sessions, ft: _FlowTable, window_us: int) -> _Calls:
    c_sess, c_step, c_task = _expand_flows(ss.flow, ft)
    c_label = _draw_call_labels(rng, ss, c_sess, c_step, c_task)
    late = ss.start[c_sess] > 0.4 * window_us  # triage moved to the mini model 40% into the window
    c_model = _route_models(rng, c_task, late)
    c_ctx, c_gen = _draw_lengths(rng, c_task)
    return _Calls(c_sess, c_step, c_task, c_label, c_model, c_ctx, c_gen)


def _draw_attempts(rng: np.random.Generator, load: np.ndarray, c_task: np.ndarray) -> _Attempts:
    """Errors and retries: rate limits follow load, timeouts follow long generations."""
    C = c_task.size
    is_r = c_task == T_REASON
    p429 = 0.006 * load ** 1.5
    pto = np.where(is_r, 0.012, np.where(c_task == T_SUMMARY, 0.005, 0.002))
    p500 = np.full(C, 0.003)
    ptot = p429 + pto + p500
    u = rng.random((C, 5))
    e1 = u[:, 0] < ptot
    r1 = e1 & (u[:, 1] < 0.85)
    e2 = r1 & (u[:, 2] < np.minimum(ptot * 2.5, 0.5))
    r2 = e2 & (u[:, 3] < 0.7)
    etype = np.where(u[:, 4] * ptot < p429, _ST_429, np.where(u[:, 4] * ptot < p429 + pto, _ST_TIMEOUT, _ST_500))
    n_att = 1 + r1.astype(np.int64) + r2
    return _Attempts(e1, e2, etype, n_att)


def _record_attempts(att: _Attempts, n_calls: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(logical call, attempt, status) for the first n_calls records; a timeout's retry may hit a rate limit."""
    C = att.n_att.size
    r_call = np.repeat(np.arange(C), att.n_att)[:n_calls]
    first_att = np.cumsum(att.n_att) - att.n_att
    r_att = (np.arange(n_calls) - first_att[r_call]).astype(np.int8)
    e1, e2, etype = att.e1[r_call], att.e2[r_call], att.etype[r_call]
    ok = ((r_att == 0) & ~e1) | ((r_att == 1) & ~e2) | (r_att == 2)
    status = np.where(ok, _ST_OK, np.where(r_att == 0, etype, np.where(etype == _ST_TIMEOUT, _ST_429, etype)))
    return r_call, r_att, status.astype(np.int8)


def _draw_latency_noise(rng: np.random.Generator, status: np.ndarray,
                        task: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(latency of an error in ms, latency noise factor of a success) per record."""
    R = status.size
    err_ms = np.where(status == _ST_429, rng.lognormal(np.log(120), 0.5, R),
                      np.where(status == _ST_TIMEOUT,
                               np.where(task == T_REASON, 60000.0, 30000.0) + rng.random(R) * 400,
                               rng.lognormal(np.log(1500), 0.6, R))).astype(np.float32)
    noise = (rng.lognormal(0.0, 0.25, R)
             * np.where(rng.random(R) < 0.015, 2.0 + 3.0 * rng.random(R), 1.0)).astype(np.float32)
    return err_ms, noise


def _place_in_time(rng: np.random.Generator, calls: _Calls, r_call: np.ndarray, r_att: np.ndarray,
                   err_ms: np.ndarray, s_start: np.ndarray, window_us: int) -> tuple[np.ndarray, np.ndarray]:
    """(record time, session start) in microseconds from the window start. Inside a session, automated
    hand-offs are quick, people are slow and retries back off; sessions end inside the window."""
    sess, step, task = calls.sess[r_call], calls.step[r_call], calls.task[r_call]
    R = r_call.size
    prev_task = np.where(step > 0, calls.task[np.maximum(r_call - 1, 0)], -1)
    think = np.where(task == T_SUMMARY, rng.lognormal(np.log(90e6), 0.6, R),  # agent gathers details first
                     np.where((task == T_QA) & (prev_task == T_QA), rng.lognormal(np.log(45e6), 0.5, R),
                              np.where(task == T_REASON, rng.lognormal(np.log(180e6), 0.7, R),
                                       0.6e6 + rng.lognormal(np.log(1.2e6), 0.4, R))))
    backoff = (2.0 ** r_att) * (0.6 + 0.8 * rng.random(R)) * 1e6
    prev_err = np.concatenate([[0.0], err_ms[:-1].astype(np.float64)]) * 1e3
    gap = np.where(r_att > 0, prev_err + backoff, np.where(step > 0, think, 0.0))
    first_rec = np.r_[True, sess[1:] != sess[:-1]]
    gap[first_rec] = 0.0
    cg = np.cumsum(gap)
    seg_start = np.maximum.accumulate(np.where(first_rec, np.arange(R), 0))
    offset = (cg - cg[seg_start]).astype(np.int64)
    span_us = np.zeros(s_start.size, dtype=np.int64)
    np.maximum.at(span_us, sess, offset)
    s_start = np.minimum(s_start, window_us - span_us - 90_000_000)  # sessions end inside the window
    s_start = np.maximum(s_start, 0)
    return np.minimum(s_start[sess] + offset, window_us - 1), s_start


def _add_defects(p: _Plan) -> None:
    """Mark the deliberate defects on successful gateway records at fixed fractions of their run."""
    gw = np.flatnonzero(p.s_channel[p.sess] != _CH_MOBILE)
    okgw = gw[p.status[gw] == _ST_OK]
    if okgw.size >= 8:
        for frac, what in ((0.13, "truncated"), (0.41, "truncated"), (0.77, "truncated"), (0.62, "nul"),
                           (0.27, "logged_twice"), (0.5, "negative_latency")):
            pos = int(okgw[int(frac * (okgw.size - 1))])
            p.defects.setdefault(pos, []).append(what)


def _plan(n_calls: int, days: int, seed: int, bad_records: bool, otel_share: float) -> _Plan:
    """Every record's skeleton for these arguments: sessions, their calls, attempts and times, sorted in time."""
    if n_calls < 1 or days < 1:
        raise ValueError("n_calls and days must be at least 1")
    if not 0.0 <= otel_share <= 1.0:
        raise ValueError("otel_share must be between 0 and 1")
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 0x5EED])
    start_us = int(START.timestamp() * 1e6)
    window_us = days * 86_400_000_000
    ft = _flow_table()
    ss = _draw_sessions(rng, n_calls, days, otel_share, ft)
    calls = _draw_calls(rng, ss, ft, window_us)
    load = ss.load[calls.sess]
    att = _draw_attempts(rng, load, calls.task)
    if int(att.n_att.sum()) < n_calls:  # vanishingly rare: too few sessions drawn; draw again with another seed stream
        return _plan(n_calls, days, seed + 104_729, bad_records, otel_share)
    r_call, r_att, status = _record_attempts(att, n_calls)
    err_ms, noise = _draw_latency_noise(rng, status, calls.task[r_call])
    ts, s_start = _place_in_time(rng, calls, r_call, r_att, err_ms, ss.start, window_us)
    R = n_calls
    rid = np.frombuffer(_ALNUM.encode(), dtype=np.uint8)[rng.integers(0, 62, (R, 29), dtype=np.uint8)]
    rid = rid.copy().view("S29").ravel()
    span = rng.integers(0, 2**63 - 1, R, dtype=np.int64)
    o = np.argsort(ts, kind="stable")
    s_day = (START.date().toordinal() + (s_start // 86_400_000_000)).astype(np.int32)
    p = _Plan(start_us, ts_us=(start_us + ts)[o], sess=calls.sess[r_call][o], step=calls.step[r_call][o],
              attempt=r_att[o], task=calls.task[r_call][o], label=calls.label[r_call][o],
              model=calls.model[r_call][o], status=status[o], err_ms=err_ms[o], noise=noise[o],
              load=load[r_call].astype(np.float32)[o], ctx=calls.ctx[r_call][o], gen=calls.gen[r_call][o],
              rid=rid[o], span=span[o], s_flow=ss.flow, s_user=ss.user, s_insured=ss.insured, s_channel=ss.channel,
              s_label=ss.label, s_incident=ss.incident, s_kb=ss.kb, s_sid=ss.sid, s_trace=ss.trace, s_day=s_day,
              defects={})
    if bad_records:
        _add_defects(p)
    return p
