"""The one exception type the CLI turns into a one-line message and a non-zero exit."""


class PrepbotError(Exception):
    """A failure the user can act on; its message is shown as is, without a traceback."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(PrepbotError):
    """The command line asks for something ambiguous or impossible (exit 2, like Click)."""

    exit_code = 2


class InvalidOutput(PrepbotError):
    """The model's reply stayed invalid against the prompt's schema after its repair, or max_tokens cut it off:
    the backend works, this one reply does not (a caller may retry or do without it)."""
