"""What the bare-metal roles realize, from Ansible's own evaluation of their variables.

Contract with the roles (``playbooks/roles/<role>/tasks/realization.yml``): each only runs
``ansible.builtin.set_fact`` of ``realization_<component>``, built from the role's variables.
``playbooks/realization.yml`` includes them on localhost; ansible-runner runs it in a private
run directory and the facts are read from its event stream (``runner_on_ok``), not its text.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from toolkit.errors import CheckFailed, EnvironmentNotReady
from toolkit.spec import LoadedSpec
from toolkit.state import new_run_dir
from toolkit.targets.baremetal.specvars import spec_vars

log = logging.getLogger(__name__)

PLAYBOOK = "realization.yml"
# role -> the component whose realization it reports (fact ``realization_<component>``)
ROLES = {
    "postgresql": "database",
    "objectstore": "objects",
    "app": "app",
    "proxy": "proxy",
    "dns": "dns",
    "firewall": "firewall",
}


def default_playbooks_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "playbooks"


@dataclass
class BaremetalRealization:
    facts: dict[str, dict[str, Any]] = field(default_factory=dict)  # component -> facts
    missing: dict[str, str] = field(default_factory=dict)  # component -> why it has none
    run_dir: Path | None = None


def evaluate_roles(loaded: LoadedSpec, playbooks_dir: Path | None = None) -> BaremetalRealization:
    """Run ``realization.yml`` against ``playbooks_dir`` (default: the toolkit's ``playbooks/``)."""
    import ansible_runner

    playbooks = (playbooks_dir or default_playbooks_dir()).resolve()
    result = BaremetalRealization()
    present = []
    for role, component in ROLES.items():
        tasks = playbooks / "roles" / role / "tasks" / "realization.yml"
        if tasks.is_file():
            present.append(role)
        else:
            result.missing[component] = f"{tasks} does not exist"
    if not present:
        return result
    run_dir = new_run_dir("parity")
    result.run_dir = run_dir
    playbook = playbooks / PLAYBOOK
    if not playbook.is_file():
        # Beside the default playbook Ansible would find the default roles first: run a copy
        # from the run directory so that only ``playbooks/roles`` (ANSIBLE_ROLES_PATH) is used.
        playbook = Path(shutil.copy(default_playbooks_dir() / PLAYBOOK, run_dir / PLAYBOOK))
    runner = ansible_runner.run(
        private_data_dir=str(run_dir),
        project_dir=str(playbooks),
        playbook=str(playbook),
        inventory={
            "all": {
                "hosts": {
                    "localhost": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
                }
            }
        },
        extravars={"spec": spec_vars(loaded), "toolkit_realization_roles": present},
        envvars={
            "ANSIBLE_ROLES_PATH": str(playbooks / "roles"),
            "ANSIBLE_LOCALHOST_WARNING": "False",
            "ANSIBLE_INVENTORY_UNPARSED_WARNING": "False",
            "PATH": _search_path(),
        },
        quiet=True,
    )
    failures = []
    for event in runner.events:
        data = event.get("event_data", {})
        if event.get("event") == "runner_on_ok":
            for key, value in (data.get("res", {}).get("ansible_facts") or {}).items():
                if key.startswith("realization_"):
                    result.facts[key.removeprefix("realization_")] = value
        elif event.get("event") == "runner_on_failed" and not data.get("ignore_errors"):
            failures.append(f"{data.get('role') or data.get('task')}: {data.get('res', {}).get('msg')}")
    if runner.status != "successful":
        detail = "; ".join(failures) or f"ansible-runner status {runner.status} (see {run_dir}/artifacts)"
        raise CheckFailed(f"the bare-metal roles could not be evaluated: {detail}")
    for role in present:
        if ROLES[role] not in result.facts:
            result.missing[ROLES[role]] = f"role {role} set no realization_{ROLES[role]} fact"
    log.info("evaluate_roles: %d components from %s", len(result.facts), playbooks)
    return result


def _search_path() -> str:
    """PATH for ansible-runner, with this interpreter's bin first (a venv need not be active)."""
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])
    if shutil.which("ansible-playbook", path=path) is None:
        raise EnvironmentNotReady("ansible-playbook is not installed (it comes with ansible-core)")
    return path
