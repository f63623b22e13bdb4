"""The migration ingress: the bare-metal subscriber's way to the RDS database during an exit.

Closed by default. The migration opens it before replication starts (``open_ingress``) and
closes it after the cutover or a rollback (``close_ingress``); both apply the stack (``pulumi
up``) with the stack config ``toolkit:migrationIngressCidr`` set or removed. Every other
provisioning run leaves the stack's setting as it is, so a provision during an exit never cuts
replication off, and one after it never reopens the database.
"""

from __future__ import annotations

import ipaddress

from toolkit.errors import BadInput
from toolkit.spec import LoadedSpec
from toolkit.targets.aws.provision import AwsProvisionResult, provision_aws

CONFIG_KEY = "migrationIngressCidr"
# StackConfig.migration_ingress_cidr: None leaves the stack's setting, CLOSED removes it.
CLOSED = ""


def check_cidr(value: str) -> str:
    """``value`` as a normalized IPv4 network other than the whole internet; ValueError if not."""
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"toolkit:{CONFIG_KEY}: {exc}") from None
    if network.version != 4:
        raise ValueError(
            f"toolkit:{CONFIG_KEY} {value} is an IPv6 network; the database is reachable over IPv4 only, "
            "name the subscriber's IPv4 network"
        )
    if network.prefixlen == 0:
        raise ValueError(f"toolkit:{CONFIG_KEY} must name the subscriber's network, not the whole internet")
    return str(network)


def open_ingress(
    loaded: LoadedSpec, cidr: str, *, check: bool = False, stack: str | None = None
) -> AwsProvisionResult:
    """Let ``cidr`` (the subscriber) reach the database port; RDS gets a public address."""
    try:
        network = check_cidr(cidr)
    except ValueError as exc:
        raise BadInput(str(exc)) from None
    return provision_aws(loaded, check=check, migration_ingress_cidr=network, stack=stack)


def close_ingress(loaded: LoadedSpec, *, check: bool = False, stack: str | None = None) -> AwsProvisionResult:
    """Remove the opening again: only the app servers reach the database, RDS is private."""
    return provision_aws(loaded, check=check, migration_ingress_cidr=CLOSED, stack=stack)
