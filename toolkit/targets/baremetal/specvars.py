"""The spec as Ansible sees it: one ``spec`` variable, so playbooks read the same source of truth.

Secret *references* are passed (file paths made absolute, environment variable names), never
secret values: roles resolve them on the controller with ``lookup('file' | 'env')`` under
``no_log``, so values appear in no extra-vars file, artifact or command line.
"""

from __future__ import annotations

from typing import Any

from toolkit.spec import LoadedSpec


def spec_vars(loaded: LoadedSpec) -> dict[str, Any]:
    data = loaded.spec.model_dump(mode="json")
    for path, ref in loaded.spec.secret_refs():
        target: Any = data
        for part in path[:-1]:
            target = target[part]
        file_path = ref.path(loaded.base_dir)
        target[path[-1]] = {"env": ref.env} if ref.env else {"file": str(file_path)}
    data["app"]["source_path"] = str(loaded.resolve_path(loaded.spec.app.source))
    bare = data["targets"].get("baremetal")
    if bare:
        bare["inventory_path"] = str(loaded.resolve_path(bare["inventory"]))
    data["spec_dir"] = str(loaded.base_dir)
    return data
