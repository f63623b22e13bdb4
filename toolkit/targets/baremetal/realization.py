"""What the bare-metal roles realize, from Ansible's own evaluation of their variables.

Contract with the roles (``playbooks/roles/<role>/tasks/realization.yml``): each only runs
``ansible.builtin.set_fact`` of ``realization_<component>``, built from the role's variables.
``playbooks/realization.yml`` includes them on localhost through the one runner
(``toolkit.targets.baremetal.runner``: its environment allow-list, a private run directory); the
facts are read from its event stream (``runner_on_ok``), not its text. No host is contacted.
"""

from __future__ import annotations

import logging
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import CheckFailed
from toolkit.spec import LoadedSpec
from toolkit.targets.baremetal.runner import PLAYBOOKS_DIR, PlaybookRun, run_playbook
from toolkit.targets.baremetal.specvars import spec_vars

log = logging.getLogger(__name__)

PLAYBOOK = "realization.yml"
# role -> the component whose realization it reports (fact ``realization_<component>``)
ROLES = {
    "postgresql": "database",
    "backups": "backups",
    "objectstore": "objects",
    "app": "app",
    "proxy": "proxy",
    "dns": "dns",
    "firewall": "firewall",
}


@dataclass
class BaremetalRealization:
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # component -> facts
    missing: dict[str, str] = field(default_factory=dict)  # component -> why it has none
    run_dir: Path | None = None


def baremetal_realization(loaded: LoadedSpec, run_dir: Path,
                          playbooks_dir: Path | None = None) -> BaremetalRealization:
    """Evaluate the roles of ``playbooks_dir`` (default: the runner's ``PLAYBOOKS_DIR``) in ``run_dir``."""
    playbooks = (playbooks_dir or PLAYBOOKS_DIR).resolve()
    result = BaremetalRealization(run_dir=run_dir)
    present = []
    for role, component in ROLES.items():
        tasks = playbooks / "roles" / role / "tasks" / "realization.yml"
        if tasks.is_file():
            present.append(role)
        else:
            result.missing[component] = f"{tasks} does not exist"
    if not present:
        return result
    playbook = playbooks / PLAYBOOK
    if not playbook.is_file():
        # Beside the default playbook Ansible would find the default roles first: run a copy
        # from the run directory so that only ``playbooks/roles`` (ANSIBLE_ROLES_PATH) is used.
        playbook = Path(shutil.copy(PLAYBOOKS_DIR / PLAYBOOK, run_dir / PLAYBOOK))
    failures: list[str] = []

    def on_event(event: dict[str, Any]) -> None:
        data = event.get("event_data", {})
        if event.get("event") == "runner_on_ok":
            for key, value in (data.get("res", {}).get("ansible_facts") or {}).items():
                if key.startswith("realization_"):
                    result.facts[key.removeprefix("realization_")] = value
        elif event.get("event") == "runner_on_failed" and not data.get("ignore_errors"):
            failures.append(f"{data.get('role') or data.get('task')}: {data.get('res', {}).get('msg')}")

    run = PlaybookRun(
        run_dir=run_dir,
        inventory={"all": {"hosts": {"localhost": {
            "ansible_connection": "local", "ansible_python_interpreter": sys.executable}}}},
        extravars={"spec": spec_vars(loaded), "toolkit_realization_roles": present},
        playbook=str(playbook),
        project_dir=playbooks,
        extra_env={
            "ANSIBLE_ROLES_PATH": str(playbooks / "roles"),
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
        },
    )
    outcome = run_playbook(run, on_event)
    if outcome.status != "successful":
        detail = "; ".join(failures) or f"ansible-runner status {outcome.status} (see {outcome.artifact_dir})"
        raise CheckFailed(f"the bare-metal roles could not be evaluated: {detail}")
    for role in present:
        if ROLES[role] not in result.facts:
            result.missing[ROLES[role]] = f"role {role} set no realization_{ROLES[role]} fact"
    log.info("baremetal_realization: %d components from %s", len(result.facts), playbooks)
    return result
