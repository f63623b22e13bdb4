"""The drill's environment: the service's spec moved onto the drill's own hosts and names.

A drill runs the migration's own steps against a derived spec, so that every name the toolkit
makes from the service's name is the drill's own and none can meet production's:

- the service is ``<name>-drill``: the source's replication slot and publication
  (``toolkit_<name>_drill``), the locks, the runs, the target's units and directories;
- the bare-metal inventory is the drill's (``targets.baremetal.drill.inventory``); a host that is
  also in production's inventory is refused;
- the zone is ``<label>.<zone>`` on the drill hosts' PowerDNS only: no registrar (nothing is
  delegated to it), no resolver, and Route53 is only read (``toolkit.drills.dns``).
"""

from __future__ import annotations

from toolkit.dns.normalize import zone_name
from toolkit.errors import BadInput
from toolkit.spec import LoadedSpec
from toolkit.spec.model import Registrar

SUFFIX = "-drill"


def drill_zone(loaded: LoadedSpec) -> str | None:
    """``<label>.<zone>.``, or None when the spec has no zone."""
    spec = loaded.spec
    bare = spec.targets.baremetal
    if spec.dns is None or bare is None or bare.drill is None:
        return None
    return zone_name(f"{bare.drill.label}.{spec.dns.zone}")


def _refuse_shared_hosts(loaded: LoadedSpec) -> None:
    from toolkit.targets.baremetal.inventory import read_inventory

    bare = loaded.spec.targets.baremetal
    assert bare is not None and bare.drill is not None
    production = read_inventory(loaded.resolve_path(bare.inventory)).values()
    drill = read_inventory(loaded.resolve_path(bare.drill.inventory)).values()
    taken = {h.name for h in production} | {h.address for h in production} \
        | {h.service_address for h in production if h.service_address}
    shared = sorted(h.name for h in drill if {h.name, h.address, h.service_address} & taken)
    if shared:
        raise BadInput(f"{loaded.path}: targets.baremetal.drill.inventory {bare.drill.inventory}: host(s) "
                       f"{', '.join(shared)} are also production hosts; a drill needs hosts of its own")


def drill_spec(loaded: LoadedSpec) -> LoadedSpec:
    """The spec a drill runs: the service renamed, on the drill's hosts and zone (module doc)."""
    spec = loaded.spec
    bare = spec.targets.baremetal
    if bare is None or bare.drill is None:
        raise BadInput(f"{loaded.path}: targets.baremetal.drill is not set; a drill needs hosts of its own: "
                       "give it an inventory (targets.baremetal.drill.inventory)")
    _refuse_shared_hosts(loaded)
    drill_bare = bare.model_copy(update={
        "inventory": bare.drill.inventory,
        "drill": None,
        # Found on the drill's own hosts (the objects and dns groups), never production's.
        "object_store": bare.object_store.model_copy(update={"endpoint": None}),
        "dns": None if bare.dns is None else bare.dns.model_copy(update={"api_url": None, "nameservers": []}),
    })
    dns = spec.dns
    zone = drill_zone(loaded)
    if dns is not None and zone is not None:
        dns = dns.model_copy(update={"zone": zone, "resolver": None,
                                     "registrar": Registrar(provider="manual")})
    drilled = spec.model_copy(update={
        "service": spec.service.model_copy(update={"name": spec.service.name + SUFFIX}),
        "targets": spec.targets.model_copy(update={"baremetal": drill_bare}),
        "dns": dns,
    })
    return LoadedSpec(spec=drilled, path=loaded.path, warnings=list(loaded.warnings))
