"""Errors a user can act on: the CLI prints their message alone (no stack trace) and exits non-zero."""


class ExportError(Exception):
    """A bad checkpoint, a bad option or an output that cannot be written; exit code 2."""

    exit_code = 2


class ParityError(ExportError):
    """The exported graphs do not compute what the PyTorch modules compute; exit code 3."""

    exit_code = 3
