"""A complete spec folder in tmp_path: the sample service.yaml with its files and secrets.

Shared by tests/stacks, tests/parity and tests/lockin. Secret values are distinctive strings so
that a test can prove none of them leaks into user data, recorded inputs or output.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SECRET_VALUES = {
    "REFSERVICE_DB_PASSWORD": "owner-pw-never-shown",
    "REFSERVICE_DB_ADMIN_PASSWORD": "admin-pw-never-shown",
    "AWS_ACCESS_KEY_ID": "AKIATESTNEVERSHOWN",
    "AWS_SECRET_ACCESS_KEY": "aws-secret-never-shown",
    "REFSERVICE_OBJECTS_ACCESS_KEY": "objects-access-never-shown",
    "REFSERVICE_OBJECTS_SECRET_KEY": "objects-secret-never-shown",
    "REFSERVICE_PDNS_API_KEY": "pdns-key-never-shown",
    "REFSERVICE_BACKUP_PASSPHRASE": "backup-passphrase-never-shown",
}
_PEM: dict[str, str] = {}


def tls_pair(workdir: Path) -> tuple[str, str]:
    """A self-signed certificate and its key (made once per session)."""
    if not _PEM:
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=refservice.example",
                "-keyout",
                str(workdir / "key.pem"),
                "-out",
                str(workdir / "cert.pem"),
            ],
            check=True,
            capture_output=True,
        )
        _PEM["cert"] = (workdir / "cert.pem").read_text()
        _PEM["key"] = (workdir / "key.pem").read_text()
    return _PEM["cert"], _PEM["key"]


def make_spec(root: Path, mp: pytest.MonkeyPatch, **changes: Any) -> Path:
    """Write service.yaml (top-level sections replaced by ``changes``) with everything it needs."""
    root.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load((REPO / "service.yaml").read_text())
    data.update(changes)
    (root / "refservice").mkdir(exist_ok=True)
    (root / "refservice" / "__init__.py").write_text("")
    inventory = root / "inventories" / "example"
    inventory.mkdir(parents=True, exist_ok=True)
    (inventory / "hosts.yml").write_text((REPO / "inventories" / "example" / "hosts.yml").read_text())
    (inventory / "known_hosts").write_text("")
    key = inventory / "deploy_key"
    key.write_text("not a real key\n")
    key.chmod(0o600)
    cert, private_key = tls_pair(root)
    for name, value in {
        **SECRET_VALUES,
        "REFSERVICE_TLS_CERT": cert,
        "REFSERVICE_TLS_KEY": private_key,
    }.items():
        mp.setenv(name, value)
    mp.setenv("TOOLKIT_STATE_DIR", str(root / "state"))
    path = root / "service.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
