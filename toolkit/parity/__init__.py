"""``toolkit parity``: does each target realize every component of the spec, the same way?

The AWS side is read from the resources the Pulumi program declares (a mocked run, see
``toolkit.targets.aws.offline``); the bare-metal side from Ansible's evaluation of the roles
(``toolkit.targets.baremetal.realization``, through the one Ansible runner). Neither is read
from the spec: parity compares realizations. Each parity is a run: its directory holds the
Ansible artifacts and the run's log.
The lock-in linter's findings for the same resources and spec are part of the report; a
blocker (something with no bare-metal equivalent) fails parity like a missing component.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from toolkit.lockin import AwsResource, LockinReport, lint
from toolkit.parity.compare import ComponentParity, compare
from toolkit.runlog import run_log
from toolkit.spec import LoadedSpec
from toolkit.state import new_run_dir
from toolkit.targets.aws.offline import run_offline
from toolkit.targets.aws.program import StackConfig
from toolkit.targets.aws.realization import aws_realization
from toolkit.targets.baremetal.realization import baremetal_realization

__all__ = ["ComponentParity", "ParityReport", "run_parity"]

log = logging.getLogger(__name__)


@dataclass
class ParityReport:
    spec_path: Path
    components: list[ComponentParity] = field(default_factory=list)
    lockin: LockinReport = field(default_factory=LockinReport)
    baremetal_run_dir: Path | None = None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.components) and self.lockin.ok

    @property
    def differences(self) -> list[str]:
        return [d for c in self.components for d in c.differences] + [
            f"lock-in: {f.subject}: {f.message}" for f in self.lockin.blockers
        ]

    def to_json(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "spec": str(self.spec_path),
            "components": [c.to_json() for c in self.components],
            "lockin": self.lockin.to_json(),
            "aws_source": "offline run of stacks/aws under Pulumi's mock runtime",
            "baremetal_source": "Ansible evaluation of the roles (playbooks/realization.yml)",
            "baremetal_run_dir": str(self.baremetal_run_dir) if self.baremetal_run_dir else None,
        }


def run_parity(loaded: LoadedSpec, *, playbooks_dir: Path | None = None) -> ParityReport:
    run_dir = new_run_dir("parity")
    with run_log(run_dir):
        run = run_offline(StackConfig.from_spec(loaded))
        bare = baremetal_realization(loaded, run_dir, playbooks_dir)
        components = compare(loaded.spec, aws_realization(run), bare.facts, bare.missing)
        lockin = lint([AwsResource(r.type, r.name, r.inputs) for r in run.resources if r.custom], loaded.spec)
        report = ParityReport(
            spec_path=loaded.path, components=components, lockin=lockin, baremetal_run_dir=run_dir
        )
        log.info("run_parity: %s, %d differences", "ok" if report.ok else "FAILED", len(report.differences))
        return report
