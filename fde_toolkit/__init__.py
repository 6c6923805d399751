"""fde-toolkit: move a customer's recurring LLM calls to small language models, and prove it."""

__version__ = "0.1.0"


class FdeError(Exception):
    """A problem the user can fix. The CLI prints its message, never a stack trace.

    Messages name the file, line or field and say what to do; they never quote record contents.
    """
