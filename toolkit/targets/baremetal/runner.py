"""Run the site playbook through ansible-runner's Python interface, with nothing secret in its files.

The private data directory is a fresh run directory of the state dir (mode 0700); its artifacts
(events, stdout, the command) stay as the audit trail. What goes into it is chosen here:

- extra vars: the spec with secret *references* only (``env/extravars``);
- the environment: an allow-list of the controller's variables (ansible-runner records the whole
  environment in ``artifacts/<id>/command``, so secrets held in the environment must not be in it;
  secrets referenced as ``{env: NAME}`` are handed to Ansible as files instead, see ``provision``);
- the SSH settings: the key by path (``--private-key``), the toolkit's known_hosts file only, with
  strict checking. A run without them reaches no host over SSH (``toolkit parity`` evaluates the
  roles on the controller, with an inline local inventory).

This is the package's only way to start Ansible (a test scans every module for another).
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import shutil
import signal
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_runner import Runner, RunnerConfig
from ansible_runner.utils import signal_handler

from toolkit.errors import EnvironmentNotReady

log = logging.getLogger(__name__)

PLAYBOOKS_DIR = Path(os.environ.get("TOOLKIT_PLAYBOOKS_DIR")
                     or Path(__file__).resolve().parents[3] / "playbooks")
SITE_PLAYBOOK = "site.yml"

# Controller variables Ansible may need; everything else stays out of the run (and its artifacts).
ENV_ALLOWED = ("PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TERM", "TMPDIR", "TZ",
               "VIRTUAL_ENV", "PYTHONPATH", "SSH_AUTH_SOCK")
ENV_ALLOWED_PREFIXES = ("LC_",)

EventHandler = Callable[[dict[str, Any]], None]


@dataclass
class PlaybookRun:
    """Everything one ansible-playbook invocation needs.

    ``inventory`` is a file, or an inline inventory (written into the run dir as JSON).
    Without ``key_file``/``known_hosts``/``user`` no SSH settings are passed (local runs only).
    ``playbook`` is relative to ``project_dir`` (default: ``PLAYBOOKS_DIR``) or absolute;
    ``extra_env`` holds Ansible settings only (``ANSIBLE_*``): it adds to the allow-listed
    environment and cannot carry anything else into the run's artifacts.
    """

    run_dir: Path
    inventory: Path | dict[str, Any]
    extravars: dict[str, Any]
    key_file: Path | None = None
    known_hosts: Path | None = None
    user: str | None = None
    check: bool = False
    playbook: str = SITE_PLAYBOOK
    limit: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)
    project_dir: Path | None = None


@dataclass
class PlaybookOutcome:
    status: str
    rc: int
    artifact_dir: Path


def ssh_args(known_hosts: Path, control_dir: Path) -> str:
    """OpenSSH options: the one known_hosts file, strictly; no other keys; connection reuse in a run."""
    return " ".join([
        "-o", "ControlMaster=auto", "-o", "ControlPersist=60s",
        "-o", shlex.quote(f"ControlPath={control_dir}/%C"),
        "-o", shlex.quote(f"UserKnownHostsFile={known_hosts}"),
        "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "IdentitiesOnly=yes",
        "-o", "BatchMode=yes",
        "-o", "ConnectTimeout=10",
    ])


def controller_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k in ENV_ALLOWED or k.startswith(ENV_ALLOWED_PREFIXES)}
    # ansible-playbook from the same environment as the toolkit (its venv), found first on PATH.
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = bindir + os.pathsep + env.get("PATH", os.defpath)
    return env


def _ssh_settings(run: PlaybookRun, control_dir: Path) -> tuple[dict[str, str], list[str]]:
    """Environment and command line for SSH; none for a run that reaches no host over SSH."""
    given = [run.key_file is not None, run.known_hosts is not None, run.user is not None]
    if not any(given):
        return {}, []
    if not all(given):
        raise ValueError("PlaybookRun needs key_file, known_hosts and user together, or none of them")
    assert run.known_hosts is not None
    env = {
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_SSH_ARGS": ssh_args(run.known_hosts, control_dir),
    }
    return env, ["--private-key", str(run.key_file), "--user", str(run.user)]


def run_playbook(run: PlaybookRun, on_event: EventHandler | None = None) -> PlaybookOutcome:
    """Run the playbook; return its status. Events go to ``on_event`` and to the artifacts."""
    if shutil.which("ansible-playbook", path=controller_env()["PATH"]) is None:
        raise EnvironmentNotReady("ansible-playbook is not installed (pip install ansible-core)")
    others = sorted(name for name in run.extra_env if not name.startswith("ANSIBLE_"))
    if others:
        raise ValueError(f"PlaybookRun.extra_env takes ANSIBLE_* settings only, not {', '.join(others)}")
    env_dir = run.run_dir / "env"
    env_dir.mkdir(mode=0o700, exist_ok=True)
    extravars_file = env_dir / "extravars"
    extravars_file.write_text(json.dumps(run.extravars, indent=1, sort_keys=True))
    extravars_file.chmod(0o600)
    inventory = run.inventory
    if isinstance(inventory, dict):
        inventory_dir = run.run_dir / "inventory"
        inventory_dir.mkdir(mode=0o700, exist_ok=True)
        inventory = inventory_dir / "hosts.json"
        inventory.write_text(json.dumps(run.inventory, indent=1, sort_keys=True))

    # ControlPath sockets: short path (socket names are limited to ~100 bytes), one per run.
    control_dir = Path(tempfile.mkdtemp(prefix="tk-ssh-"))
    try:
        ssh_env, cmdline = _ssh_settings(run, control_dir)
        env = {
            **run.extra_env,
            **ssh_env,
            "ANSIBLE_CONFIG": str(PLAYBOOKS_DIR / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
            "ANSIBLE_RETRY_FILES_ENABLED": "False",
            "ANSIBLE_LOCAL_TEMP": str(run.run_dir / "tmp"),
        }
        if run.check:
            cmdline += ["--check", "--diff"]
        config = RunnerConfig(
            private_data_dir=str(run.run_dir),
            project_dir=str(run.project_dir or PLAYBOOKS_DIR),
            playbook=run.playbook,
            inventory=str(inventory),
            limit=run.limit,
            cmdline=shlex.join(cmdline),
            quiet=True,
        )
        config.prepare()
        # RunnerConfig seeds its environment with the whole controller environment; replace it.
        runner_env = controller_env()
        runner_env.update({k: v for k, v in config.env.items()
                           if k.startswith(("ANSIBLE_", "RUNNER_", "AWX_", "JOB_", "PYTHON"))})
        runner_env.update(env)
        config.env = runner_env

        def handler(event: dict[str, Any]) -> bool:
            if on_event is not None:
                on_event(event)
            return True

        # ansible-runner's handler turns SIGINT/SIGTERM into a cancel of this run; it stays
        # installed afterwards, and would swallow every later Ctrl-C of the process.
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            runner = Runner(config=config, event_handler=handler, cancel_callback=signal_handler())
            runner.run()
        finally:
            if threading.current_thread() is threading.main_thread():
                for sig, handler_before in previous.items():
                    signal.signal(sig, handler_before)
        log.info("run_playbook: %s rc=%s in %s", runner.status, runner.rc, run.run_dir)
        return PlaybookOutcome(status=str(runner.status), rc=int(runner.rc or 0),
                               artifact_dir=Path(config.artifact_dir))
    finally:
        shutil.rmtree(control_dir, ignore_errors=True)
