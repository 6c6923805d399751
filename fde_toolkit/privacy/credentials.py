"""Secrets and credentials: provider API keys, JWTs, private keys, key = value assignments, URLs with
credentials or tokens. Prefixed keys are unambiguous; bare values count only next to a telling name."""

from __future__ import annotations

import math
import re

from fde_toolkit.privacy.findings import Detector, Hit, Validator


def _entropy(s: str) -> float:
    counts: dict[str, int] = {}
    for ch in s:
        counts[ch] = counts.get(ch, 0) + 1
    return -sum(c / len(s) * math.log2(c / len(s)) for c in counts.values())


NOT_A_SECRET = re.compile(r"(?i)^(?:\*+|x+|\.+|-+|_+|null|none|nil|true|false|string|redacted|<.*>|\$\{.*\}|"
                          r"\{\{.*\}\}|%.*%|changeme|required|optional|undefined|example)$")


def looks_like_password(v: str) -> bool:
    """A password value: 6+ characters with a digit, a symbol or mixed case, not a stand-in like ***."""
    if len(v) < 6 or NOT_A_SECRET.match(v) or " " in v.strip():
        return False
    return bool(re.search(r"\d|[^\w]", v) or (re.search(r"[a-z]", v) and re.search(r"[A-Z]", v)))


def looks_like_token(v: str) -> bool:
    """A token or key value: 12+ characters without spaces, letters and digits, or long and high-entropy."""
    if len(v) < 12 or " " in v or NOT_A_SECRET.match(v):
        return False
    has_digit, has_alpha = bool(re.search(r"\d", v)), bool(re.search(r"[A-Za-z]", v))
    return (has_digit and has_alpha) or (len(v) >= 20 and _entropy(v) >= 3.5)


API_KEY = (r"\b(?:sk-(?:ant-|proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}|(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}|"
           r"gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{22,}|xox[abposr]-[A-Za-z0-9\-]{10,}|"
           r"AIza[0-9A-Za-z_\-]{35}|(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|glpat-[A-Za-z0-9_\-]{20,}|"
           r"hf_[A-Za-z0-9]{30,}|npm_[A-Za-z0-9]{36})")
JWT = r"\beyJ[A-Za-z0-9_\-]{5,}\.eyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]*"
PRIVATE_KEY = (r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----(?:[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY[A-Z ]*-----|"
               r"[A-Za-z0-9+/=\s\\]*)")


def _whole(entity: str, detector: str) -> Validator:
    return lambda c: [Hit(c, entity, detector, c, c)] if c.strip() else []


_PASSWORD_KEYS = r"password|passwd|pwd|passphrase|secret"
SECRET_ASSIGNMENT = (
    r"(?i)\b(?:api[_\-]?key|apikey|x-api-key|access[_\-]?key(?:[_\-]?id)?|secret[_\-]?(?:access[_\-]?)?key|"
    r"client[_\-]?secret|access[_\-]?token|refresh[_\-]?token|auth[_\-]?token|id[_\-]?token|session[_\-]?token|"
    r"bearer[_\-]?token|private[_\-]?key|" + _PASSWORD_KEYS + r"|token)[\"']?\s{0,3}[:=]\s{0,3}[\"']?"
    r"[^\s\"'`,;&<>(){}\[\]]{6,}|\b(?:Bearer|Basic|Token)\s+[A-Za-z0-9._~+/\-]{12,}=*"
)
_ASSIGN_PY = re.compile(r"(?is)^(.*?(?:[:=]\s*[\"']?|(?:bearer|basic|token)\s+))(\S+)$")


def _secret_assignment(c: str) -> list[Hit]:
    m = _ASSIGN_PY.match(c)
    if not m:
        return []
    head, value = m.group(1), m.group(2)
    is_password = bool(re.match(r"(?i)(?:%s)\b" % _PASSWORD_KEYS, head))
    ok = looks_like_password(value) if is_password else looks_like_token(value)
    if not ok:
        return []
    if len(value) >= 8:
        return [Hit(value, "SECRET", "secret_assignment", value, value)]
    return [Hit(c, "SECRET", "secret_assignment", value, value, prefix=head)]


URL = r"(?i)\b[a-z][a-z0-9+.\-]{1,15}://[^\s\"'<>\\`]+"
_SECRET_PARAM = re.compile(
    r"(?i)^(?:.*[_\-.])?(?:token|access_token|id_token|refresh_token|api[_\-]?key|apikey|key|secret|client_secret|"
    r"password|passwd|pwd|pass|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|credential|"
    r"auth|authorization|session|sessionid|sid|code)$")
_SHORT_OK_PARAM = re.compile(r"(?i)^(?:password|passwd|pwd|pass)$")


def _url_credentials(c: str) -> list[Hit]:
    url = c.rstrip(".,;:!?)]}'")
    hits: list[Hit] = []
    m = re.match(r"(?i)[a-z][a-z0-9+.\-]*:(//)([^/?#@\s:]+):([^/?#@\s]+)@", url)
    if m:
        userinfo = f"{m.group(2)}:{m.group(3)}"
        hits.append(Hit(f"//{userinfo}@", "SECRET", "url_credentials", userinfo, userinfo, prefix="//", suffix="@"))
    for pm in re.finditer(r"[?&#;]([A-Za-z0-9_.\-\[\]]+)=([^&#;\s]+)", url):
        name, value = pm.group(1), pm.group(2)
        if _SECRET_PARAM.match(name) and (len(value) >= 6 or (_SHORT_OK_PARAM.match(name) and value)):
            hits.append(Hit(f"{name}={value}", "SECRET", "url_credentials", value, value, prefix=f"{name}="))
    return hits


def credential_detectors() -> dict[str, list[Detector]]:
    """The credential detectors by config name."""
    return {
        "private_key": [Detector("private_key", PRIVATE_KEY, _whole("SECRET", "private_key"))],
        "jwt": [Detector("jwt", JWT, _whole("SECRET", "jwt"))],
        "api_key": [Detector("api_key", API_KEY, _whole("SECRET", "api_key"))],
        "url_credentials": [Detector("url_credentials", URL, _url_credentials)],
        "secret_assignment": [Detector("secret_assignment", SECRET_ASSIGNMENT, _secret_assignment)],
    }
