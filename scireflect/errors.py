"""Typed errors raised at scireflect's boundaries; the CLI turns each into one line and an exit code."""

from __future__ import annotations


class ScireflectError(Exception):
    """Base class. ``exit_code`` is what the CLI exits with when this error reaches it."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(ScireflectError):
    """A setting, a path from the settings, or a missing optional dependency."""

    exit_code = 2


class InputError(ScireflectError):
    """Bad user input; names the file and line where there is one."""

    exit_code = 1

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line
        self.reason = message


# HTTP statuses worth another try besides 5xx: timeout, conflict, too early, rate limited.
RETRY_STATUSES = frozenset({408, 409, 425, 429})


class ProviderError(ScireflectError):
    """A model provider failed: unreachable URL, HTTP status, bad model file."""

    exit_code = 2

    def __init__(self, message: str, *, url: str | None = None, status: int | None = None,
                 retryable: bool = False):
        super().__init__(message)
        self.url = url
        self.status = status
        self.retryable = retryable


class StoreError(ScireflectError):
    """The trace/run/record store could not be opened or written."""

    exit_code = 2


class VerifierError(ScireflectError):
    """A verifier is misconfigured or unknown (verifiers never raise for a bad answer)."""

    exit_code = 2


def missing_dependency(package: str, extra: str) -> ConfigError:
    """The error for an optional dependency that is not installed, with the install hint."""
    return ConfigError(f"{package} is not installed; install it with: pip install 'scireflect[{extra}]'")
