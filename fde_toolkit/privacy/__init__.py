"""S2 curation: PII detection, consistent pseudonyms, sensitivity rules (`fde scrub`).

    from fde_toolkit.privacy import scrub, scrub_calls, PiiConfig, load_key
    report = scrub(eng).data                                           # the engagement step
    curated, restricted, report = scrub_calls(calls, PiiConfig(), load_key())
"""

from fde_toolkit.privacy.config import PiiConfig, parse_pii_config
from fde_toolkit.privacy.curation import curate_calls, scrub_calls
from fde_toolkit.privacy.pseudonym import KEY_ENV, key_id, load_key
from fde_toolkit.privacy.views import render_report
from fde_toolkit.privacy.step import scrub
from fde_toolkit.privacy.vault import read_vault

__all__ = ["KEY_ENV", "PiiConfig", "curate_calls", "key_id", "load_key", "parse_pii_config",
           "read_vault", "render_report", "scrub", "scrub_calls"]
