"""Preview and update the real stack through Pulumi's Automation API (needs the Pulumi CLI).

State lives in a local file backend under the toolkit's state directory
(``<state>/pulumi/backend``); stack secrets are encrypted with a passphrase from
``$PULUMI_CONFIG_PASSPHRASE(_FILE)`` or, failing that, one generated once and kept in
``<state>/pulumi/passphrase`` (mode 0600). Command failures become ``CheckFailed`` here, in
one place.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import CheckFailed
from toolkit.state import private_dir, state_root
from toolkit.targets.aws.program import StackConfig, stack_dir

log = logging.getLogger(__name__)


def cli_available() -> bool:
    return shutil.which("pulumi") is not None


@dataclass
class AutomationOutcome:
    mode: str  # "preview" or "up"
    changes: dict[str, int] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)


def _passphrase_env() -> dict[str, str]:
    if os.environ.get("PULUMI_CONFIG_PASSPHRASE") or os.environ.get("PULUMI_CONFIG_PASSPHRASE_FILE"):
        return {}
    path = private_dir(state_root() / "pulumi") / "passphrase"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
    return {"PULUMI_CONFIG_PASSPHRASE_FILE": str(path)}


def workspace_env() -> dict[str, str]:
    backend = private_dir(state_root() / "pulumi" / "backend")
    return {
        "PULUMI_BACKEND_URL": backend.as_uri(),
        # The program imports toolkit: run it with this interpreter, not whatever python3 is.
        "PULUMI_PYTHON_CMD": sys.executable,
        **_passphrase_env(),
    }


def run_stack(
    config: StackConfig, *, check: bool, on_output: Callable[[str], None] | None = None
) -> AutomationOutcome:
    from pulumi import automation as auto

    work_dir: Path = stack_dir()
    try:
        stack = auto.create_or_select_stack(
            stack_name=config.stack,
            work_dir=str(work_dir),
            opts=auto.LocalWorkspaceOptions(env_vars=workspace_env()),
        )
        for key, value in config.values().items():
            stack.set_config(key, auto.ConfigValue(value=value))
        for key in config.removed():
            stack.remove_config(key)
        if check:
            preview = stack.preview(on_output=on_output)
            changes = {str(k): int(v) for k, v in (preview.change_summary or {}).items()}
            return AutomationOutcome(mode="preview", changes=changes)
        up = stack.up(on_output=on_output)
        changes = {str(k): int(v) for k, v in (up.summary.resource_changes or {}).items()}
        outputs = {key: ("[secret]" if item.secret else item.value) for key, item in up.outputs.items()}
        return AutomationOutcome(mode="up", changes=changes, outputs=outputs)
    except auto.errors.CommandError as exc:
        log.debug("run_stack: %s", exc)
        raise CheckFailed(
            f"pulumi {'preview' if check else 'up'} failed for stack {config.stack}: "
            f"{_last_error_line(str(exc))}"
        ) from exc


def _last_error_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["(no output)"])[-1]
