"""fde-toolkit: move a customer's recurring LLM calls to small language models, and prove it."""

__version__ = "0.1.0"


class FdeError(Exception):
    """A problem the user can fix. The CLI prints its message, never a stack trace.

    Messages name the file, line or field and say what to do; they never quote record contents.
    """


def invalid_section(where: str, section: str, err, see: str) -> FdeError:
    """One FdeError for a pydantic ValidationError on a section of engagement.yaml: every problem on its
    own line, named by its key (`finetune.train.lr: ...`), then where every option is documented."""
    lines = [f"{where}: the `{section}:` section is not valid:"]
    for e in err.errors():
        field = ".".join(str(p) for p in e["loc"])
        lines.append(f"  - {section}{'.' + field if field else ''}: {e['msg'].removeprefix('Value error, ')}")
    lines.append(f"Fix these keys (see {see}) and run again.")
    return FdeError("\n".join(lines))
