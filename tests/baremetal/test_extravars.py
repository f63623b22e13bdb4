"""What the playbook run receives: secret references only, an environment without secrets."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from toolkit.spec import load_spec
from toolkit.targets.baremetal.provision import secret_files
from toolkit.targets.baremetal.runner import controller_env, ssh_args

SECRETS = {
    "REFSERVICE_DB_PASSWORD": "db-secret-value-1234",
    "REFSERVICE_DB_ADMIN_PASSWORD": "admin-secret-value-5678",
    "REFSERVICE_OBJECTS_ACCESS_KEY": "objects-access-key-value",
    "REFSERVICE_OBJECTS_SECRET_KEY": "objects-secret-key-value",
    "REFSERVICE_PDNS_API_KEY": "pdns-api-key-value",
    "REFSERVICE_BACKUP_PASSPHRASE": "backup-passphrase-value-90",
    "REFSERVICE_TLS_CERT": "-----BEGIN CERTIFICATE-----",
    "REFSERVICE_TLS_KEY": "tls-key-value",
    "AWS_ACCESS_KEY_ID": "aws-access-key-value",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-key-value",
}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def spec_with_env_secrets(monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return REPO / "service.yaml"


def test_extravars_hold_references_only(spec_with_env_secrets: Path) -> None:
    loaded = load_spec(spec_with_env_secrets, check_environment=False)
    with secret_files(loaded) as data:
        text = json.dumps(data)
        for value in SECRETS.values():
            assert value not in text
        password = data["database"]["owner"]["password"]
        path = Path(password["file"])
        assert path.read_text() == SECRETS["REFSERVICE_DB_PASSWORD"]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        assert data["targets"]["aws"]["credentials"]["secret_access_key"].get("omitted")
        assert data["app"]["source_path"] == str(REPO / "refservice")
    assert not path.exists()


def test_missing_secret_is_bad_input(spec_with_env_secrets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from toolkit.errors import BadInput

    loaded = load_spec(spec_with_env_secrets, check_environment=False)
    monkeypatch.delenv("REFSERVICE_OBJECTS_SECRET_KEY")
    with pytest.raises(BadInput, match=r"object_store\.secret_key"), secret_files(loaded):
        pass


def test_environment_is_an_allow_list(spec_with_env_secrets: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A name no list of known secrets could foresee: only an allow-list keeps it out.
    monkeypatch.setenv("SOME_UNRELATED_TOKEN", "unrelated-value-4242")
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("LC_ALL", "C.UTF-8")
    env = controller_env()
    for name in [*SECRETS, "SOME_UNRELATED_TOKEN"]:
        assert name not in env
    assert "unrelated-value-4242" not in env.values()
    # What Ansible needs still passes, unchanged.
    assert env["LANG"] == env["LC_ALL"] == "C.UTF-8"
    assert env["PATH"].split(os.pathsep)[0].endswith("bin")


def test_ssh_uses_only_the_toolkit_known_hosts(tmp_path: Path) -> None:
    args = ssh_args(tmp_path / "known_hosts", tmp_path)
    assert f"UserKnownHostsFile={tmp_path / 'known_hosts'}" in args
    assert "GlobalKnownHostsFile=/dev/null" in args
    assert "StrictHostKeyChecking=yes" in args
