"""``toolkit provision --target baremetal`` as users run it: a subprocess, its exit status, its streams.

The README promises: exit 1 if a host failed or the preflight refused a host; ``--json`` prints
one document (hosts with ok/changed/failed/unreachable, changed, changes, check, standby,
run_dir) and nothing else on stdout; live progress goes to stderr.
"""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.lab import baremetal_names, lab_run
from tests.fixtures.lab_states import LabStates, hosts_in
from toolkit.state import state_root

from .labspec import derived_spec, provision_runs

pytestmark = [pytest.mark.lab, pytest.mark.timeout(1800)]

SITE = Path(__file__).resolve().parents[2] / "playbooks" / "site.yml"

HOST_FIELDS = {"ok", "changed", "failed", "unreachable"}
DOCUMENTED = {"hosts", "changed", "changes", "changes_hidden", "check", "standby", "run_dir"}


def provision_cli(spec: Path | str, *args: str) -> subprocess.CompletedProcess[str]:
    """``toolkit provision --target baremetal --spec SPEC ARGS`` in a subprocess, streams apart."""
    argv = [sys.executable, "-m", "toolkit", "provision", "--target", "baremetal", "--spec", str(spec), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=1500)


def only_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """stdout parsed as one JSON document: anything else on it (progress, a summary) fails here."""
    try:
        document = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise AssertionError(f"stdout is not one JSON document ({error}):\n{result.stdout[:2000]}") from None
    assert isinstance(document, dict), document
    return document


def test_json_document_is_all_of_stdout_with_the_documented_fields(lab_provisioned: dict[str, Any]) -> None:
    lab = lab_provisioned
    runs_before = provision_runs()
    result = provision_cli(lab["spec"], "--check", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    document = only_json(result)
    assert set(document) >= DOCUMENTED
    assert set(document["hosts"]) == set(baremetal_names(lab))
    for host, stats in document["hosts"].items():
        assert set(stats) >= HOST_FIELDS, host
        assert stats["failed"] == 0 and stats["unreachable"] is False, (host, stats)
        assert stats["ok"] > 0, (host, stats)  # every host ran its roles' tasks
    assert document["check"] is True and document["standby"] is False
    # Converged hosts, rebooted from the state's snapshot: check mode finds nothing to change.
    assert document["changed"] == sum(stats["changed"] for stats in document["hosts"].values()) == 0
    assert document["changes"] == [] and document["changes_hidden"] == {}
    run_dir = Path(document["run_dir"])
    assert provision_runs() == runs_before | {run_dir.name}  # the run this document describes
    assert run_dir.parent == state_root() / "runs"
    assert run_dir.stat().st_mode & 0o777 == 0o700
    assert list(run_dir.glob("artifacts/*/job_events/*.json"))


def test_progress_goes_to_stderr_and_the_summary_to_stdout(lab_provisioned: dict[str, Any]) -> None:
    lab = lab_provisioned
    result = provision_cli(lab["spec"], "--check")
    assert result.returncode == 0, result.stderr[-3000:]
    plays = [play["name"] for play in yaml.safe_load(SITE.read_text())]
    # Not a terminal: plain lines on stderr only (the run's events: the step, each play, the end).
    err = result.stderr.splitlines()
    assert [line for line in err if line.startswith("note: play: ")] == [f"note: play: {p}" for p in plays], \
        result.stderr[-3000:]
    assert "playbook: started" in err and any(line.startswith("playbook: done in ") for line in err), err
    assert "play: " not in result.stdout and "playbook:" not in result.stdout
    summary = result.stdout.splitlines()
    assert summary[0].startswith("bare metal, live, check mode (nothing changed): successful"), summary
    rows = {line.split()[0]: line.split() for line in summary[1:-1] if re.search(r"\bok=\d+", line)}
    assert set(rows) == set(baremetal_names(lab)) and all(row[-1] == "ok" for row in rows.values()), summary
    would = re.fullmatch(r"would change (\d+) task\(s\); artifacts in (\S+)", summary[-1])
    assert would is not None, summary
    assert int(would[1]) == sum(int(row[2].removeprefix("changed=")) for row in rows.values()), summary
    assert Path(would[2]).is_dir()


ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[()][A-Za-z0-9])")


def provision_cli_on_a_terminal(spec: Path | str, *args: str) -> tuple[int, str, str]:
    """Like ``provision_cli`` with stderr on a pseudo-terminal, as a user at a shell has it:
    (exit status, stdout, what the terminal showed without its control sequences)."""
    argv = [sys.executable, "-m", "toolkit", "provision", "--target", "baremetal", "--spec", str(spec), *args]
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=terminal, stdin=subprocess.DEVNULL,
                                env={**os.environ, "TERM": "xterm", "COLUMNS": "120"})
    finally:
        os.close(terminal)
    shown = bytearray()
    while True:  # read until the child closes the terminal (EIO), or the pipe would fill and block it
        try:
            chunk = os.read(controller, 65536)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(controller)
    stdout = proc.stdout.read().decode() if proc.stdout else ""
    status = proc.wait(timeout=60)
    return status, stdout, ANSI.sub("", shown.decode(errors="replace")).replace("\r", "\n")


def test_live_progress_on_a_terminal_draws_the_step_on_stderr(lab_provisioned: dict[str, Any]) -> None:
    lab = lab_provisioned
    status, stdout, shown = provision_cli_on_a_terminal(lab["spec"], "--check")
    assert status == 0, shown[-3000:]
    # The live view: the playbook step with the current play and task and how many tasks ran, and
    # at the end the step done with its time; the per-host counts are the summary's, on stdout.
    assert re.search(r"playbook\s+.*\d+ tasks", shown), shown[-3000:]
    assert re.search(r"playbook[\s│|]+✓ \d+\.\d s", shown), shown[-3000:]
    rows = {line.split()[0] for line in stdout.splitlines()[1:] if re.search(r"\bok=\d+", line)}
    assert rows == set(baremetal_names(lab)), stdout
    assert "tasks" not in stdout and "play: " not in stdout, stdout


def test_a_failed_host_exits_1_and_the_json_names_it(lab_provisioned: dict[str, Any],
                                                     lab_states: LabStates) -> None:
    lab = lab_provisioned
    dns_only = [host for host in hosts_in(lab, "dns") if len(hosts_in(lab, "dns")) > 1
                and set(next(h for h in lab["hosts"] if h["name"] == host)["groups"]) == {"dns"}]
    assert dns_only, "this test needs a host that is in the dns group only (the 5-host lab's bm5)"
    broken = dns_only[0]
    lab_states.changed()
    # The dns role writes /etc/powerdns/pdns.conf: with /etc/powerdns a plain file, that task fails
    # on this host, and on no other.
    moved = lab_run(lab, broken, "sudo mv /etc/powerdns /etc/powerdns.moved && sudo touch /etc/powerdns")
    assert moved.status == 0, moved.stderr
    result = provision_cli(lab["spec"], "--json")
    assert result.returncode == 1, (result.returncode, result.stderr[-3000:])
    document = only_json(result)
    assert document["check"] is False and document["standby"] is False
    assert set(document["hosts"]) == set(baremetal_names(lab))
    failed = {host for host, stats in document["hosts"].items() if stats["failed"] or stats["unreachable"]}
    assert failed == {broken}, document["hosts"]
    assert document["hosts"][broken]["failed"] == 1
    assert [failure["host"] for failure in document["failures"]] == [broken]
    assert "error: provisioning baremetal failed" in result.stderr


def test_a_failed_preflight_exits_1_naming_the_host_and_starts_no_run(lab_provisioned: dict[str, Any],
                                                                      tmp_path: Path) -> None:
    lab = lab_provisioned
    unreachable = baremetal_names(lab)[-1]
    nobody = lab["subnet"].rsplit(".", 1)[0] + ".250"  # on the lab's bridge, where no host answers
    spec = derived_spec(Path(lab["spec"]), tmp_path, host_vars={unreachable: {"ansible_host": nobody}})
    runs_before = provision_runs()
    result = provision_cli(spec, "--json")
    assert result.returncode == 1, (result.returncode, result.stdout[-2000:], result.stderr[-3000:])
    assert "preflight failed, no host was changed" in result.stderr
    problems = [line.strip() for line in result.stderr.splitlines() if line.startswith("  ")]
    assert [line.split(":", 1)[0] for line in problems] == [unreachable], result.stderr
    assert "Traceback" not in result.stderr
    assert provision_runs() == runs_before
