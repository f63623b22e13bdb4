"""What the stack reads besides the spec: stack config in the ``toolkit:`` namespace."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pulumi

from toolkit.spec import LoadedSpec, load_spec
from toolkit.targets.aws.ingress import check_cidr

SPEC_ENV = "TOOLKIT_SPEC"
# Debian publishes its AMIs as public SSM parameters; the app servers run what bare metal runs.
DEBIAN_AMI_PARAMETER = "/aws/service/debian/release/bookworm/latest/amd64"


class StackConfigError(ValueError):
    """The stack config is missing or wrong; the message names the key."""


@dataclass(frozen=True)
class StackSettings:
    spec_path: Path
    migration_ingress_cidr: str | None = None
    instance_type: str = "t3.small"
    instance_count: int = 2
    db_instance_class: str = "db.t3.micro"
    db_allocated_storage: int = 20
    ami_id: str | None = None

    def __post_init__(self) -> None:
        if self.migration_ingress_cidr:
            try:
                check_cidr(self.migration_ingress_cidr)
            except ValueError as exc:
                raise StackConfigError(str(exc)) from None
        if self.instance_count < 1:
            raise StackConfigError("toolkit:instanceCount must be at least 1")

    @classmethod
    def from_config(cls, config: pulumi.Config) -> StackSettings:
        """Stack config first; ``TOOLKIT_SPEC`` in the environment names the spec otherwise."""
        spec = config.get("spec") or os.environ.get(SPEC_ENV)
        if not spec:
            raise StackConfigError(f"no spec: set the stack config toolkit:spec or ${SPEC_ENV}")
        return cls(
            spec_path=Path(spec).expanduser().resolve(),
            migration_ingress_cidr=config.get("migrationIngressCidr") or None,
            instance_type=config.get("instanceType") or cls.instance_type,
            instance_count=config.get_int("instanceCount") or cls.instance_count,
            db_instance_class=config.get("dbInstanceClass") or cls.db_instance_class,
            db_allocated_storage=config.get_int("dbAllocatedStorage") or cls.db_allocated_storage,
            ami_id=config.get("amiId") or None,
        )


def load_stack_spec(path: Path) -> LoadedSpec:
    """The validated spec, with its secret references resolvable (the stack reads them)."""
    return load_spec(path)
