"""fde-toolkit: move a customer's recurring LLM calls to small language models, and prove it."""

__version__ = "0.1.0"


class FdeError(Exception):
    """A problem the user can fix. The CLI prints its message, never a stack trace.

    Messages name the file, line or field and say what to do; they never quote record contents.
    """


def field_name(loc: tuple, prefix: str = "") -> str:
    """A pydantic error location as the user writes it in YAML: `pii.patterns[0].regex`."""
    out = prefix
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def format_errors(head: str, errors: list[dict], tail: str, prefix: str = "") -> str:
    """The one format of every settings error: a head line, each problem on its own line named by its
    key, then what to do."""
    lines = [head]
    for e in errors:
        lines.append(f"  - {field_name(tuple(e['loc']), prefix)}: {e['msg'].removeprefix('Value error, ')}")
    lines.append(tail)
    return "\n".join(lines)


def invalid_section(where: str, section: str, err, see: str) -> FdeError:
    """One FdeError for a pydantic ValidationError on a section of engagement.yaml (see format_errors)."""
    return FdeError(format_errors(f"{where}: the `{section}:` section is not valid:", err.errors(),
                                  f"Fix these keys (see {see}) and run again.", prefix=section))


def open_engagement(root) -> "Engagement":  # noqa: F821
    """The engagement folder at `root`, its engagement.yaml validated: `eng.ingest()`, `eng.scrub()`, ..."""
    from fde_toolkit.engagement import Engagement

    return Engagement.load(root)


def new_engagement(root, logs=None, link: bool = False, client: str = "") -> "Engagement":  # noqa: F821
    """Scaffold an engagement folder at `root` (engagement.yaml from the template, the logs under data/raw/)."""
    from fde_toolkit.engagement import new_engagement as scaffold

    return scaffold(root, logs=logs, link=link, client=client)


__all__ = ["FdeError", "new_engagement", "open_engagement"]
