"""The canary guard over every command that reads a spec: no secret lands in output, logs or state.

Each command runs as a subprocess (``toolkit -vv ...``, so its logging is scanned too) with every
secret the spec references set to a recognizable canary value (``tests/fixtures/canary.py``);
afterwards its stdout, stderr and the whole sandbox (state directory: runs, artifacts, run logs,
journals, reports, labs; its home and temporary directory) are searched for each canary, raw,
base64- and URL-encoded. Files that exist to hold a secret are listed once, in ``canary.EXEMPT``.

The commands that need a lab (``lab up``, ``provision --target baremetal`` in check mode and for
real) are guarded in ``test_canary_guard_lab.py``, with the same helper.

Every later command that reads a spec or a run - replicate, dns, migrate, rollback, drill, plan, report,
discover, backup, restore - must be added here (or, if it needs a lab, to the lab module) when it
is built.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.canary import Sandbox, spec_canaries
from tests.stacks.specdir import make_spec, tls_pair

# name -> arguments after `toolkit -vv`; `--spec` is added by the test.
COMMANDS: dict[str, list[str]] = {
    "validate": ["validate"],
    "validate --json": ["validate", "--json"],
    "provision --target aws --check": ["provision", "--target", "aws", "--check"],
    "provision --target aws --check --json": ["provision", "--target", "aws", "--check", "--json"],
    "parity": ["parity"],
    "parity --json": ["parity", "--json"],
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_no_secret_leaks(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = make_spec(tmp_path / "spec", monkeypatch)
    certificate, key = tls_pair(tmp_path / "spec")
    env, secrets = spec_canaries(spec, certificate=certificate, key=key)
    assert {"REFSERVICE_DB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "REFSERVICE_TLS_KEY"} <= set(secrets)
    sandbox = Sandbox(tmp_path / "sandbox")
    result = sandbox.run([*COMMANDS[name], "--spec", str(spec)], env=env, cwd=spec.parent)
    assert result.returncode == 0, result.stdout.decode() + result.stderr.decode()
    if "--json" in name:
        json.loads(result.stdout)
    if name.startswith("parity"):
        # The files that once held every secret exist, so the scan did look at them.
        assert list(sandbox.state.glob("runs/*-parity-*/artifacts/*/command"))
        assert list(sandbox.state.glob("runs/*-parity-*/run.log"))
    sandbox.assert_no_leak(secrets, result)
