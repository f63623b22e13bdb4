"""Where the AWS Pulumi program lives and the stack config the toolkit gives it."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import BadInput, EnvironmentNotReady
from toolkit.spec import LoadedSpec, Spec

STACKS_ENV = "TOOLKIT_STACKS_DIR"
PROJECT = "toolkit"  # the Pulumi project name in stacks/aws/Pulumi.yaml; also the config namespace


def stack_dir() -> Path:
    """``$TOOLKIT_STACKS_DIR/aws`` if set, else ``stacks/aws`` next to the toolkit package."""
    explicit = os.environ.get(STACKS_ENV)
    root = Path(explicit) if explicit else Path(__file__).resolve().parents[3] / "stacks"
    path = root / "aws"
    if not (path / "__main__.py").is_file():
        raise EnvironmentNotReady(
            f"the AWS Pulumi program is not at {path} (set ${STACKS_ENV} to the folder holding stacks/aws)"
        )
    return path


def importable(path: Path) -> None:
    """Make the program's ``service_stack`` module importable, as Pulumi's runner does."""
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


@dataclass(frozen=True)
class StackConfig:
    """The stack config the toolkit sets; everything else comes from the spec itself."""

    spec_path: Path
    region: str
    stack: str
    # None leaves the stack's setting as it is; "" removes it (closed); a CIDR opens it.
    migration_ingress_cidr: str | None = None

    @classmethod
    def from_spec(
        cls, loaded: LoadedSpec, *, stack: str | None = None, migration_ingress_cidr: str | None = None
    ) -> StackConfig:
        aws = loaded.spec.targets.aws
        if aws is None:
            raise BadInput(f"{loaded.path}: the spec has no targets.aws section")
        return cls(
            spec_path=loaded.path,
            region=aws.region,
            stack=stack or default_stack(loaded.spec),
            migration_ingress_cidr=migration_ingress_cidr,
        )

    def values(self) -> dict[str, str]:
        """Fully qualified config keys and values (``toolkit:spec``, ``aws:region``, ...)."""
        config = {f"{PROJECT}:spec": str(self.spec_path), "aws:region": self.region}
        if self.migration_ingress_cidr:
            config[f"{PROJECT}:migrationIngressCidr"] = self.migration_ingress_cidr
        return config

    def removed(self) -> list[str]:
        """Fully qualified config keys to remove from the stack (a closed migration ingress)."""
        return [f"{PROJECT}:migrationIngressCidr"] if self.migration_ingress_cidr == "" else []


def default_stack(spec: Spec) -> str:
    """The stack a spec is realized in unless one is named: the service's name."""
    return spec.service.name
