"""The toolkit's public Python interface: the CLI is a thin layer over these functions.

Each function does the work and raises ``toolkit.errors.ToolkitError`` subclasses on failure;
none prints. Results are plain dataclasses with a ``to_json()`` for ``--json`` output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from toolkit.errors import BadInput
from toolkit.spec import LoadedSpec, SpecIssue, load_spec
from toolkit.targets import ProvisionResult


@dataclass
class ValidationResult:
    spec_path: Path
    loaded: LoadedSpec
    warnings: list[SpecIssue] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        spec = self.loaded.spec
        return {
            "ok": True,
            "spec": str(self.spec_path),
            "service": spec.service.name,
            "targets": [name for name in ("aws", "baremetal") if getattr(spec.targets, name)],
            "warnings": [w.to_json() for w in self.warnings],
            "errors": [],
        }


def validate(spec_path: Path | str | None = None) -> ValidationResult:
    """Validate a spec: schema, semantics, files and secret references. Raises ``SpecError``."""
    loaded = load_spec(spec_path)
    return ValidationResult(spec_path=loaded.path, loaded=loaded, warnings=loaded.warnings)


def provision(target: str, spec_path: Path | str | None = None, *, check: bool = False,
              standby: bool = False, show_progress: bool = False) -> ProvisionResult:
    """Provision ``target`` ("baremetal" or "aws") from the spec; ``check`` changes nothing."""
    loaded = load_spec(spec_path)
    if target == "baremetal":
        from toolkit.targets.baremetal.provision import provision_baremetal

        return provision_baremetal(loaded, check=check, standby=standby, show_progress=show_progress)
    if target == "aws":
        if standby:
            raise BadInput("--standby applies to --target baremetal only")
        from toolkit.targets.aws.provision import provision_aws

        return provision_aws(loaded, check=check, show_progress=show_progress)
    raise BadInput(f"unknown target {target!r} (baremetal or aws)")
