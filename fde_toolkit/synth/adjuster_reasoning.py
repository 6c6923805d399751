"""Task 6, adjusters' open-ended requests (letters, comparisons, analyses) and the frontier model's long answers."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from fde_toolkit.synth.documents import _estimate_lines, _grow
from fde_toolkit.synth.knowledge_base import KNOWLEDGE_BASE
from fde_toolkit.synth.story import _Story
from fde_toolkit.synth.text import _fmt_date, _money, _pick
from fde_toolkit.synth.vocab import _SHOPS

_REASON_SYSTEM = (
    "You are an expert claims adjuster assistant at Northwind Mutual. Give thorough, well-reasoned, "
    "professional answers. Show your calculations, cite the policy language you rely on, and end "
    "with clear recommendations."
)
REASONING_KINDS = ("compare_estimates", "denial_letter", "delay_letter", "fraud_review", "total_loss_valuation",
                   "subrogation_assessment", "coverage_analysis", "reserve_recommendation", "claimant_email")
_REASON_P = (0.16, 0.12, 0.08, 0.12, 0.12, 0.10, 0.12, 0.09, 0.09)

_GENERIC_PARAS = (
    "Documentation: make sure the file holds the signed proof of loss, the photos with their timestamps, the "
    "estimate or invoice for every amount we pay, and a diary note explaining each decision. If this claim is "
    "ever audited or reaches litigation, the reasoning has to be readable from the file alone.",
    "Regulatory timing: the acknowledgement must go out within 2 business days of the notice and the coverage "
    "decision within 15 business days of receiving the last requested document. If any of these dates slips, send "
    "a written status letter that explains why and when the member will hear from us next.",
    "Communication: call {first} before anything goes out in writing, walk through the numbers in plain language, "
    "and confirm the preferred contact channel. Members who hear the reasoning first escalate far less often, even "
    "when the answer is not what they hoped for.",
    "Reserve adequacy: compare the current reserve ({reserve}) with the indicated exposure. If the indicated amount "
    "moves by more than 20%, update the reserve the same day and note the reason, so the monthly reserve review "
    "does not flag this file.",
    "Vendor management: if we assign an independent appraiser or a contractor, give them the claim number {claim}, "
    "the loss date and the scope in writing, and ask for their report within 5 business days. Late vendor reports "
    "are the most common cause of missed decision deadlines.",
    "Coverage position: nothing in the file so far suggests a coverage problem beyond what is noted above, but "
    "confirm that the policy {policy} was in force on the date of loss and that the loss location matches the "
    "declarations before issuing any payment.",
    "Risks: the main uncertainties are hidden damage found during the teardown, a dispute over the labor rate, and "
    "the timing of parts. Each of these can add one to two weeks; set expectations with the member accordingly.",
    "Fairness check: before finalising, ask whether a reasonable member reading our letter would understand what was "
    "paid, what was not, and why. If the answer is no, rewrite the explanation rather than adding more policy text.",
    "Next review: set a diary for 7 days to confirm that the actions above are complete, that the member has "
    "received payment or a written explanation, and that the reserve reflects the remaining exposure.",
)

_FRAUD_FLAGS = ("the policy was bound 19 days before the loss",
                "the insured changed the mailing address twice in a month",
                "the repair invoice is from a shop with no web presence", "the loss was reported 11 days late",
                "the photos' metadata predates the reported loss date", "a prior similar claim was paid in 2025",
                "the insured is pressing for a cash settlement")
# the step-by-step action plan that pads very long answers
_STEP_VERBS = ("Call", "Email", "Write to", "Meet with")
_STEP_WHO = ("the insured", "the body shop", "the other carrier", "the independent appraiser", "the contractor", "SIU")
_STEP_WHAT = ("confirm the scope of the damage", "agree on the labor rate", "request missing documents",
              "confirm the payment details", "set the inspection time", "review the supplement")


def _reason_request(kind: str, st: _Story, r: random.Random, target_tokens: int) -> tuple[str, dict]:
    """An adjuster's request (with attached material up to target_tokens) and the facts for its answer."""
    p = st.p
    facts: dict[str, Any] = {}
    if kind == "compare_estimates":
        shop_a, shop_b = _pick(r, _SHOPS[:4]), _pick(r, _SHOPS[4:])
        a = _estimate_lines(r, 4 + int(r.random() * 4))
        b = [(n, int(v * (0.9 + r.random() * 0.45))) for n, v in a]
        facts.update(a=a, b=b, shop_a=shop_a, shop_b=shop_b)
        fmt = lambda items: "\n".join(f"  {n:<34} {_money(v):>9}" for n, v in items)  # noqa: E731
        head = (f"Compare these two repair estimates for claim {st.claim} ({p.vehicle}, insured {p.name}) and advise "
                "which one we should approve and why. Flag any line items that look inflated.\n\n"
                f"ESTIMATE A - {shop_a}\n{fmt(a)}\n  {'TOTAL':<34} {_money(sum(v for _, v in a)):>9}\n\n"
                f"ESTIMATE B - {shop_b}\n{fmt(b)}\n  {'TOTAL':<34} {_money(sum(v for _, v in b)):>9}\n\n"
                "Claim file material:")
    elif kind == "denial_letter":
        loss, excl = _pick(r, (("basement flooding after heavy rain", "flood and surface water"),
                               ("a roof leak caused by long-term deterioration", "wear and tear"),
                               ("foundation cracks after the ground settled", "earth movement"),
                               ("damage to the vehicle while it was used for food delivery", "business use"),
                               ("mold growth from a slow leak under the sink", "continuous seepage and mold")))
        facts.update(loss=loss, excl=excl)
        head = (f"Draft a letter to {p.name} ({p.address}) explaining that claim {st.claim} for {loss} is not covered "
                f"under policy {p.policy} because of the {excl} exclusion. Keep the tone empathetic, explain what we "
                f"reviewed, and include their appeal rights.\n\nBackground from the file:")
    elif kind == "delay_letter":
        reason = _pick(r, ("we are still waiting for the police report",
                           "the independent appraiser needs to re-inspect the vehicle",
                           "the contractor's bid has not arrived",
                           "we need the medical records to complete the review"))
        facts.update(reason=reason)
        head = (f"Write a letter to {p.name} explaining why claim {st.claim} is taking longer than expected: {reason}. "
                f"Apologize, give a realistic timeline and tell them what they can do to help.\n\nFile notes:")
    elif kind == "fraud_review":
        flags = [f for f in _FRAUD_FLAGS if r.random() < 0.45] or ["the loss was reported 11 days late"]
        facts.update(flags=flags)
        head = (f"Review the file for claim {st.claim} ({st.short}, insured {p.name}) and list any fraud indicators. "
                f"Tell me whether to refer it to SIU. Things I noticed: {'; '.join(flags)}.\n\nFile:")
    elif kind == "total_loss_valuation":
        base = 9000 + int(r.random() * 21000)
        comps = [(f"{p.vehicle.split(' ', 1)[1]} {_pick(r, ('LE', 'SE', 'XLE', 'Sport', 'Touring', 'EX'))}",
                  int(base * (0.88 + r.random() * 0.25)),
                  40000 + int(r.random() * 60000)) for _ in range(3 + int(r.random() * 3))]
        repair = int(base * (0.55 + r.random() * 0.45))
        facts.update(comps=comps, repair=repair)
        rows = "\n".join(f"  Comp {i + 1}: {n}, {m:,} miles, listed {_money(v)}" for i, (n, v, m) in enumerate(comps))
        head = (f"Calculate the actual cash value for the {p.vehicle} on claim {st.claim} from these comparables and "
                f"tell me whether it is a total loss given the repair estimate of {_money(repair)}.\n{rows}\n\nFile:")
    elif kind == "subrogation_assessment":
        fault = 60 + int(r.random() * 41)
        facts.update(fault=fault, paid=st.amount or 4000 + int(r.random() * 8000))
        head = (f"Assess our subrogation potential on claim {st.claim}. We paid {_money(facts['paid'])} so far. The "
                f"police report and statements are below; the other carrier has accepted {fault}% liability in "
                "principle.\n\nFile:")
    elif kind == "coverage_analysis":
        kbs = sorted(set(int(r.random() * len(KNOWLEDGE_BASE)) for _ in range(3)))
        facts.update(kbs=kbs)
        head = (f"{p.name} (policy {p.policy}) reports that {st.tp}. They are asking what is covered, including a "
                "rental and any medical bills. Walk me through which coverages apply, the deductibles, and what is "
                "excluded.\n\nRelevant policy language:\n"
                + "\n".join(f"- {KNOWLEDGE_BASE[i]['excerpt']}" for i in kbs) + "\n\nFile:")
    elif kind == "reserve_recommendation":
        facts.update(ind=(st.amount or 6000) + int(r.random() * 4000), exp=400 + int(r.random() * 2200))
        head = (f"Recommend an initial reserve for claim {st.claim} ({st.short}, {st.location}). Split indemnity and "
                f"expense, and explain the assumptions.\n\nFile:")
    else:  # claimant_email
        d = st.report_date + timedelta(days=3 + int(r.random() * 8))
        facts.update(insp=d)
        head = (f"Write an email to {p.name} at {p.email} explaining the next steps on claim {st.claim}: the "
                f"inspection on {_fmt_date(d, r)}, how the rental car works, and what documents we still need.\n\n"
                "Notes:")
    return _grow(st, r, head, target_tokens), facts


def _answer_body(kind: str, st: _Story, facts: dict) -> list[str]:
    """The answer's own paragraphs for a request of this kind, from the facts its request stated."""
    p = st.p
    parts: list[str] = []
    if kind == "compare_estimates":
        a, b = facts["a"], facts["b"]
        ta, tb = sum(v for _, v in a), sum(v for _, v in b)
        diffs = sorted(((vb - va, n, va, vb) for (n, va), (_, vb) in zip(a, b)), reverse=True)[:3]
        win, shop, tot = ("A", facts["shop_a"], ta) if ta <= tb else ("B", facts["shop_b"], tb)
        parts.append(f"Recommendation: approve Estimate {win} from {shop} at {_money(tot)}, subject to a supplement "
                     f"review if hidden damage turns up during teardown.")
        parts.append(f"Totals: Estimate A ({facts['shop_a']}) comes to {_money(ta)} and Estimate B ({facts['shop_b']}) "
                     f"to {_money(tb)}, a difference of {_money(abs(tb - ta))} ({abs(tb - ta) / max(ta, 1):.0%} of "
                     f"Estimate A). Both estimates cover the same repair scope on the {p.vehicle}, so the gap comes "
                     "from pricing rather than from what is being repaired.")
        parts.append("Line items that drive the difference:\n" + "\n".join(
            f"- {n}: {_money(va)} vs {_money(vb)} ({'+' if d >= 0 else '-'}{_money(abs(d))})"
            for d, n, va, vb in diffs))
        parts.append("Labor: check the body and paint hours against the standard labor guide for this model. Hours "
                     "more than 15% above the guide need a written justification from the shop before we pay them.")
    elif kind == "denial_letter":
        parts.append(f"Dear {p.name},")
        parts.append(f"Thank you for reporting claim {st.claim} and for the information you shared with us. We know "
                     f"that dealing with {facts['loss']} is stressful, and we have reviewed your claim carefully.")
        parts.append(f"After reviewing the photos, the inspection report and your policy {p.policy}, we have concluded "
                     f"that this loss is not covered. Your policy excludes loss caused by {facts['excl']}, and the "
                     "evidence shows that this was the cause of the damage.")
        parts.append("If you have information we have not considered, such as a contractor's report or additional "
                     "photos, please send it to us and we will review our decision. You may also request an appeal in "
                     "writing within 60 days of this letter, or contact your state's Department of Insurance.")
        parts.append("We are sorry this is not the answer you hoped for. Your adjuster is available to discuss this "
                     "letter and can point you to resources that may help with repairs.")
    elif kind == "delay_letter":
        parts.append(f"Dear {p.first},")
        parts.append(f"I am writing with an update on claim {st.claim}. I am sorry it is taking longer than we "
                     f"expected: {facts['reason']}. We cannot complete our review until that is in hand.")
        parts.append("We expect to have what we need within the next 10 business days, and we will make a decision "
                     "within 15 business days after that. I will call you as soon as anything changes.")
    elif kind == "fraud_review":
        flags = facts["flags"]
        parts.append(f"Fraud indicators found on claim {st.claim} ({len(flags)}):\n"
                     + "\n".join(f"- {f}" for f in flags))
        refer = len(flags) >= 3
        parts.append(("Recommendation: refer the claim to SIU. Three or more independent indicators meet our referral "
                      "threshold, and payment should be held until SIU responds.") if refer else
                     ("Recommendation: no SIU referral at this stage. The indicators are individually explainable; "
                      "document them, verify them with the insured, and re-evaluate if anything new appears."))
        parts.append("None of these indicators proves fraud on its own, and the member must be treated as acting in "
                     "good faith. Ask neutral verification questions and request the original photo files.")
    elif kind == "total_loss_valuation":
        comps, repair = facts["comps"], facts["repair"]
        acv = int(sum(v for _, v, _ in comps) / len(comps))
        thr = int(acv * 0.75)
        parts.append(f"Actual cash value: averaging the {len(comps)} comparables gives {_money(acv)}:\n" + "\n".join(
            f"- {n}, {m:,} miles: {_money(v)}" for n, v, m in comps))
        total = repair > thr
        parts.append(f"Total loss test: the threshold is 75% of the ACV, {_money(thr)}. The repair estimate of "
                     f"{_money(repair)} is {'above' if total else 'below'} it, so the vehicle "
                     f"{'is a total loss' if total else 'should be repaired'}." +
                     (f" The settlement is {_money(acv)} minus the deductible, plus applicable taxes and fees."
                      if total else ""))
        parts.append("Adjust each comparable for mileage and options before finalising; a difference of 10,000 miles "
                     "is worth roughly 2 to 4 percent on vehicles of this age.")
    elif kind == "subrogation_assessment":
        fault, paid = facts["fault"], facts["paid"]
        parts.append(f"Subrogation potential is {'strong' if fault >= 80 else 'moderate'}. With the other carrier "
                     f"accepting {fault}% liability, the expected recovery on the {_money(paid)} paid is "
                     f"{_money(paid * fault // 100)}, and the member's deductible should be recovered in the same "
                     "proportion.")
        parts.append("Send the demand package within 30 days: the payment ledger, the estimate, photos, the police "
                     "report and the recorded statement. If the carrier disputes the percentage, consider "
                     "inter-company arbitration.")
    elif kind == "coverage_analysis":
        parts.append(f"Short answer for {p.name}: the loss itself ({st.short}) falls under the coverage that matches "
                     "the cause of loss, subject to its deductible; the points below cover the add-ons they asked "
                     "about.")
        for i in facts["kbs"]:
            parts.append(f"- {KNOWLEDGE_BASE[i]['answers'][0]}")
        parts.append("Confirm on the declarations page which endorsements are actually on the policy before quoting "
                     "any limit to the member.")
    elif kind == "reserve_recommendation":
        ind, exp = facts["ind"], facts["exp"]
        parts.append(f"Recommended initial reserve for claim {st.claim}: indemnity {_money(ind)}, expense "
                     f"{_money(exp)}, total {_money(ind + exp)}.")
        parts.append("Assumptions: indemnity reflects the current estimate plus a margin for supplements typical of a "
                     f"{st.short}; expense covers an independent appraisal and possible vendor fees.")
    else:
        parts.append(f"Subject: Next steps on your claim {st.claim}\n\nHi {p.first},")
        parts.append(f"Thank you for your patience. Our inspector will visit on {facts['insp']:%B} "
                     f"{facts['insp'].day}. Please make sure the damaged area is accessible and have any photos or "
                     "receipts ready.")
        parts.append("If your policy includes rental reimbursement, you can pick up a rental car at any partner "
                     "location; we pay up to $40 a day for up to 30 days while your car is being repaired.")
    return parts


def _pad(parts: list[str], st: _Story, r: random.Random, target_tokens: int) -> None:
    """Append generic adjuster guidance, then a step-by-step action plan, until parts hold about target_tokens."""
    p = st.p
    goal = target_tokens * 4
    n = sum(len(x) for x in parts)
    pool = list(range(len(_GENERIC_PARAS)))
    r.shuffle(pool)
    vals = {"first": p.first, "claim": st.claim, "policy": p.policy,
            "reserve": _money(st.amount) if st.amount is not None else "not yet set"}
    for i in pool:
        if n >= goal:
            break
        para = _GENERIC_PARAS[i].format_map(vals)
        parts.append(para)
        n += len(para)
    k = 0
    while n < goal:  # very long answers: a step-by-step action plan
        k += 1
        para = (f"Step {k}: {_pick(r, _STEP_VERBS)} {_pick(r, _STEP_WHO)} to {_pick(r, _STEP_WHAT)}, "
                f"and record the outcome in the file for claim {st.claim} the same day.")
        parts.append(para)
        n += len(para)


def _reason_answer(kind: str, st: _Story, facts: dict, r: random.Random, target_tokens: int) -> str:
    """The frontier model's answer of about target_tokens: the kind's own paragraphs, padding, a sign-off."""
    parts = _answer_body(kind, st, facts)
    _pad(parts, st, r, target_tokens)
    if kind in ("denial_letter", "delay_letter"):
        parts.append(f"Sincerely,\n{st.adjuster}\nClaims Department, Northwind Mutual")
    elif kind == "claimant_email":
        parts.append(f"Best regards,\n{st.adjuster}\nNorthwind Mutual Claims")
    return "\n\n".join(parts)


def render_call(st: _Story, r: random.Random, label: int, ctx: int,
                gen: int) -> tuple[list[dict], dict, dict[str, Any]]:
    """(messages, response message, extra request keys) of an adjuster's request of kind REASONING_KINDS[label],
    with about ctx tokens of file material and an answer of about gen tokens."""
    kind = REASONING_KINDS[label]
    req, facts = _reason_request(kind, st, r, ctx)
    msgs = [{"role": "system", "content": _REASON_SYSTEM}, {"role": "user", "content": req}]
    out = {"role": "assistant", "content": _reason_answer(kind, st, facts, r, gen)}
    return msgs, out, {}
