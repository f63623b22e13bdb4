"""``toolkit provision --target aws``: the Pulumi program in ``stacks/aws``.

With the Pulumi CLI on PATH, the Automation API runs ``preview`` (``--check``) or ``up``.
Without it, ``--check`` runs an *offline* preview under Pulumi's mock runtime and shows the
resource graph; applying is impossible and says so (exit 3).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any

from toolkit.errors import EnvironmentNotReady
from toolkit.spec import LoadedSpec
from toolkit.targets.aws import automation
from toolkit.targets.aws.graph import graph_json, tree_lines
from toolkit.targets.aws.offline import RecordedResource, run_offline
from toolkit.targets.aws.program import StackConfig

log = logging.getLogger(__name__)

OFFLINE_LABEL = (
    "OFFLINE preview: the program ran under Pulumi's mock runtime (no Pulumi CLI, "
    "no cloud contacted); ids and computed values are placeholders"
)
NO_CLI = (
    "applying the AWS stack needs the Pulumi CLI, which is not on PATH "
    "(install it from https://www.pulumi.com/docs/install/); "
    "`toolkit provision --target aws --check` runs an offline preview without it"
)


@dataclass
class AwsProvisionResult:
    mode: str  # "offline-preview", "preview" or "up"
    stack: str
    resources: list[RecordedResource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    changes: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    ok: bool = True

    @property
    def offline(self) -> bool:
        return self.mode == "offline-preview"

    def to_json(self) -> dict[str, object]:
        return {
            "target": "aws",
            "ok": self.ok,
            "mode": self.mode,
            "offline": self.offline,
            "stack": self.stack,
            "resources": graph_json(self.resources),
            "outputs": self.outputs,
            "changes": self.changes,
            "warnings": self.warnings,
        }

    def summary_lines(self) -> list[str]:
        if self.offline:
            components = [r for r in self.resources if r.component]
            lines = [
                OFFLINE_LABEL,
                f"stack {self.stack}: {len(self.resources)} resources ({len(components)} components)",
                "",
            ]
            lines += tree_lines(self.resources)
        else:
            lines = [
                f"pulumi {self.mode} of stack {self.stack}: "
                + (", ".join(f"{k} {v}" for k, v in sorted(self.changes.items())) or "no changes")
            ]
        if self.outputs:
            lines += ["", "outputs:"] + [f"  {k}: {v}" for k, v in self.outputs.items()]
        lines += [f"warning: {w}" for w in self.warnings]
        return lines


def provision_aws(
    loaded: LoadedSpec,
    *,
    check: bool = False,
    show_progress: bool = False,
    migration_ingress_cidr: str | None = None,
    stack: str | None = None,
) -> AwsProvisionResult:
    config = StackConfig.from_spec(loaded, stack=stack, migration_ingress_cidr=migration_ingress_cidr)
    if automation.cli_available():
        outcome = automation.run_stack(config, check=check, on_output=_stream if show_progress else None)
        return AwsProvisionResult(
            mode=outcome.mode, stack=config.stack, outputs=outcome.outputs, changes=outcome.changes
        )
    if not check:
        raise EnvironmentNotReady(NO_CLI)
    log.info("provision_aws: no pulumi CLI, offline preview of stack %s", config.stack)
    run = run_offline(config)
    return AwsProvisionResult(
        mode="offline-preview",
        stack=config.stack,
        resources=run.resources,
        outputs=run.outputs,
        warnings=run.warnings,
    )


def _stream(line: str) -> None:
    """Pass the Pulumi CLI's own progress lines through (stderr keeps --json output clean)."""
    sys.stderr.write(line if line.endswith("\n") else line + "\n")
