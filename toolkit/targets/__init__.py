"""Realizations of the spec: ``aws`` (Pulumi stacks in ``stacks/aws``) and ``baremetal``
(Ansible playbooks in ``playbooks/``). Both read the same ``toolkit.spec.Spec``."""

from __future__ import annotations

from typing import Protocol


class ProvisionResult(Protocol):
    """What provisioning a target reports, whichever target it was."""

    @property
    def ok(self) -> bool: ...

    def to_json(self) -> dict[str, object]: ...

    def summary_lines(self) -> list[str]: ...
