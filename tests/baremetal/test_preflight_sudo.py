"""The preflight refuses a host where the deploy user reaches SSH but cannot ``sudo -n``.

One host gets a user of its own that logs in with the operator's key but has no sudo rule; a
derived inventory makes that user the host's ``ansible_user`` (the preflight honours per-host
users). Provisioning must stop before any host is changed, name that host, say sudo, and start
no run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.lab import baremetal_hosts, lab_run
from tests.fixtures.lab_states import LabStates
from toolkit import ssh
from toolkit.spec import load_spec
from toolkit.targets.baremetal.preflight import PreflightFailed
from toolkit.targets.baremetal.provision import provision_baremetal

from .hostfs import LOGIN_RUNTIME, diff, hash_upper, upper_dir
from .labspec import derived_spec, provision_runs

pytestmark = [pytest.mark.lab, pytest.mark.timeout(1200)]

NO_SUDO_USER = "nosudo"
# A login by a user without sudo also writes where a first login does: its own home's caches.
IGNORED = (*LOGIN_RUNTIME, f"home/{NO_SUDO_USER}/.cache/")


def hashes(lab: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {host["name"]: hash_upper(upper_dir(lab, host["name"]), IGNORED) for host in baremetal_hosts(lab)}


def add_user_without_sudo(lab: dict[str, Any], host: str) -> None:
    """A user on ``host`` that accepts the operator's key and has no sudo rule (nor a password)."""
    home = f"/home/{NO_SUDO_USER}"
    made = lab_run(lab, host, " && ".join([
        f"sudo useradd --create-home --shell /bin/bash {NO_SUDO_USER}",
        f"sudo usermod --password '*' {NO_SUDO_USER}",  # no password, yet not a locked account
        f"sudo install -d -m 700 -o {NO_SUDO_USER} -g {NO_SUDO_USER} {home}/.ssh",
        f"sudo install -m 600 -o {NO_SUDO_USER} -g {NO_SUDO_USER} ~deploy/.ssh/authorized_keys {home}/.ssh/",
    ]))
    assert made.status == 0, made.stderr


def test_preflight_refuses_a_host_whose_user_cannot_sudo(lab_provisioned: dict[str, Any],
                                                         lab_states: LabStates, tmp_path: Path) -> None:
    lab = lab_provisioned
    host = baremetal_hosts(lab)[-1]
    lab_states.changed()
    add_user_without_sudo(lab, host["name"])
    # The premise: the user logs in with the operator's key and the known host key, and sudo -n fails.
    client = ssh.connect(host["address"], user=NO_SUDO_USER, key_file=lab["ssh_key"],
                         known_hosts=lab["known_hosts"])
    try:
        assert ssh.run(client, "id -un").stdout.strip() == NO_SUDO_USER
        assert ssh.run(client, "sudo -n true").status != 0
    finally:
        client.close()

    spec = derived_spec(Path(lab["spec"]), tmp_path, host_vars={host["name"]: {"ansible_user": NO_SUDO_USER}})

    before, runs_before = hashes(lab), provision_runs()
    with pytest.raises(PreflightFailed) as failed:
        provision_baremetal(load_spec(spec))
    after = hashes(lab)

    assert set(failed.value.problems) == {host["name"]}
    problem = failed.value.problems[host["name"]]
    assert "sudo" in problem and NO_SUDO_USER in problem, problem
    assert "no host was changed" in str(failed.value)
    assert host["name"] in str(failed.value)
    assert provision_runs() == runs_before
    changed = {name: diff(before[name], after[name]) for name in before}
    assert changed == {name: [] for name in before}, changed
