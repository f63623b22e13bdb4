"""The toolkit's error hierarchy: each error knows the exit status it maps to.

| exit | class                 | meaning                                     |
|------|-----------------------|---------------------------------------------|
| 1    | CheckFailed           | a check failed (a gate, a host, a parity)   |
| 2    | BadInput              | bad input or usage (spec, arguments)        |
| 3    | EnvironmentNotReady   | missing root, a missing tool, no lab        |
"""

from __future__ import annotations


class ToolkitError(Exception):
    """Base of every error the toolkit raises on purpose; the message is for the user."""

    exit_code = 1


class CheckFailed(ToolkitError):
    """A check ran and failed: the input was fine, the world was not."""

    exit_code = 1


class BadInput(ToolkitError):
    """The user's input (spec, arguments, files) is wrong; nothing was changed."""

    exit_code = 2


class EnvironmentNotReady(ToolkitError):
    """The machine cannot do this yet: missing root, a missing tool, a lab that is not up."""

    exit_code = 3
