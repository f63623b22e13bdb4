"""Ansible is started one way only: ``toolkit/targets/baremetal/runner.py`` (its environment allow-list).

``toolkit parity`` once called ansible-runner itself and wrote every secret of the environment
into its artifacts; this scan fails if any other module of the package imports ansible_runner.
"""

from __future__ import annotations

import ast
from pathlib import Path

import toolkit

PACKAGE = Path(toolkit.__file__).resolve().parent
RUNNER = PACKAGE / "targets" / "baremetal" / "runner.py"


def imports_ansible_runner(source: str) -> list[int]:
    """Line numbers of every import of ansible_runner (or a submodule) in ``source``."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            names = [str(node.args[0].value)]
        else:
            continue
        if any(name == "ansible_runner" or name.startswith("ansible_runner.") for name in names):
            lines.append(node.lineno)
    return lines


def test_only_the_runner_imports_ansible_runner() -> None:
    offenders = {str(path.relative_to(PACKAGE.parent)): found
                 for path in sorted(PACKAGE.rglob("*.py")) if path != RUNNER
                 for found in [imports_ansible_runner(path.read_text())] if found}
    assert offenders == {}, f"start Ansible through {RUNNER.name} only: {offenders}"
    assert imports_ansible_runner(RUNNER.read_text()), "the runner itself no longer imports ansible_runner"


def test_the_scan_sees_every_import_form() -> None:
    for source in ("import ansible_runner", "import ansible_runner.utils as u",
                   "from ansible_runner import run", "from ansible_runner.config.runner import RunnerConfig",
                   "def f():\n    import ansible_runner\n",
                   "import importlib\nimportlib.import_module('ansible_runner')"):
        assert imports_ansible_runner(source), source
    assert not imports_ansible_runner("import ansible_runner_extras\nfrom toolkit import runner")


def test_a_run_leaves_the_process_signal_handlers_as_they_were(tmp_path: Path) -> None:
    """ansible-runner installs its own SIGINT/SIGTERM handler; after the run Ctrl-C must work again."""
    import signal
    import sys

    from toolkit.targets.baremetal.runner import PlaybookRun, run_playbook

    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "noop.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ansible.builtin.debug: {msg: hello}\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    outcome = run_playbook(PlaybookRun(
        run_dir=run_dir, extravars={}, playbook="noop.yml", project_dir=tmp_path / "project",
        inventory={"all": {"hosts": {"localhost": {"ansible_connection": "local",
                                                   "ansible_python_interpreter": sys.executable}}}}))
    assert outcome.status == "successful"
    assert {sig: signal.getsignal(sig) for sig in before} == before
