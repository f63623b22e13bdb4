"""DNS cutover figures in a provisioned lab: switch-to-answer time and the sync of a big zone.

    sudo .venv/bin/python benchmarks/dns_cutover.py --lab NAME [--records 5000] [--repeat 3] [--json]

The lab must be up with its bare-metal hosts provisioned (`toolkit lab up --name NAME`, then
`toolkit provision --target baremetal --spec <labdir>/service.yaml`). Everything the benchmark
changes is restored at the end (the providers and the registry from a snapshot taken first).

1. Switch to answers: from the start of ``switch`` (every provider changed through its API) until
   every authoritative server, asked by address, answers the new records; per server. The peer
   is one raw PATCH of the same rrset to one PowerDNS API and the time until that server answers:
   the floor for one server.
2. Sync of a zone of ``--records`` records from Route53 (moto) to every PowerDNS server: read
   both sides, plan, apply. The peer is the raw floor: one PATCH per server carrying every rrset,
   with nothing read or compared.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from typing import Any

from toolkit.dns import cutover, query
from toolkit.dns.cutover import rollback_to, snapshot
from toolkit.dns.plan import make_plan
from toolkit.dns.powerdns_api import replace
from toolkit.dns.world import DnsWorld, load_world, servers
from toolkit.dns.zone import Rrset, Zone, make_rrset
from toolkit.lab.record import RECORD, LabRecord, lab_dir
from toolkit.spec import load_spec


def big_zone(world: DnsWorld, count: int) -> list[Rrset]:
    return [make_rrset(f"host{i}", "A", 60, [f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}"], world.zone)
            for i in range(count)]


def switch_to_answers(world: DnsWorld) -> dict[str, Any]:
    started = time.monotonic()
    cutover.switch(world)
    switched = time.monotonic() - started
    per_server: dict[str, float] = {}
    for provider, addresses in servers(world).items():
        for address in addresses:
            for item in world.switches:
                answer, _ = query.wait_for(address, item.name, item.type, item.values, timeout=30,
                                           interval=0.02)
                assert answer.values == item.values, (provider, address, answer)
            per_server[f"{provider}@{address}"] = round(time.monotonic() - started, 3)
    return {"switch_api_s": round(switched, 3), "all_answer_s": max(per_server.values()),
            "servers": per_server}


def raw_patch_to_answer(world: DnsWorld, values: tuple[str, ...]) -> float:
    target = world.targets[0]
    item = world.switches[0]
    started = time.monotonic()
    target.api.patch(world.zone, [replace(item.name, item.type, 1, list(values))])
    answer, _ = query.wait_for(target.servers[0], item.name, item.type, values, timeout=30, interval=0.02)
    assert answer.values == values
    return round(time.monotonic() - started, 3)


def sync_big(world: DnsWorld, rrsets: list[Rrset]) -> dict[str, float]:
    source = world.source.populate()
    desired = Zone(source.name, dict(source.rrsets))
    for rrset in rrsets:
        desired.add(rrset)
    started = time.monotonic()
    world.source.apply(make_plan(desired, source, world.source, keys={r.key for r in rrsets}), force=True)
    seeded = time.monotonic() - started
    started = time.monotonic()
    plans = cutover.sync(world, force=True)
    ours = time.monotonic() - started
    assert all(p.count("create") >= len(rrsets) for p in plans)
    assert cutover.identical(world) == []
    # Where the time goes: reading each side (read again now, both holding the whole zone).
    started = time.monotonic()
    world.source.populate()
    read_route53 = time.monotonic() - started
    started = time.monotonic()
    world.targets[0].populate()
    read_powerdns = time.monotonic() - started
    # The floor: every rrset in one PATCH per server, nothing read, nothing compared.
    body = [replace(r.name, r.type, r.ttl + 1, list(r.values)) for r in rrsets]
    started = time.monotonic()
    for target in world.targets:
        target.api.patch(world.zone, body)
    raw = time.monotonic() - started
    return {"seed_route53_s": round(seeded, 3), "sync_s": round(ours, 3), "raw_patch_s": round(raw, 3),
            "read_route53_s": round(read_route53, 3), "read_one_powerdns_s": round(read_powerdns, 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lab", required=True)
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    record = LabRecord.load(lab_dir(args.lab) / RECORD)
    if record is None or record.phase != "up":
        sys.exit(f"lab {args.lab} is not up")
    world = load_world(load_spec(lab_dir(args.lab) / "service.yaml"))
    before = snapshot(world)
    results: dict[str, Any] = {"records": args.records}
    try:
        cutover.sync(world, force=True)
        old = world.source.populate().rrsets[world.switches[0].key].values
        switches, raws = [], []
        for _ in range(args.repeat):
            rollback_to(world, before)
            cutover.sync(world, force=True)
            switches.append(switch_to_answers(world))
            raws.append(raw_patch_to_answer(world, old))
        results["switch"] = switches
        results["switch_all_answer_median_s"] = statistics.median(s["all_answer_s"] for s in switches)
        results["raw_patch_to_answer_median_s"] = statistics.median(raws)
        rollback_to(world, before)
        results["sync"] = sync_big(world, big_zone(world, args.records))
    finally:
        rollback_to(world, before)
    sync = results["sync"]
    raw = sync["raw_patch_s"]
    results["sync_ratio_to_raw"] = round(sync["sync_s"] / raw, 2) if raw else None
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"switch -> every authoritative server answers (median of {args.repeat}): "
          f"{results['switch_all_answer_median_s']:.3f} s; raw PATCH -> one server answers: "
          f"{results['raw_patch_to_answer_median_s']:.3f} s")
    for name, seconds in switches[-1]["servers"].items():
        print(f"  {name}: {seconds:.3f} s")
    print(f"sync of {args.records} records to {len(world.targets)} PowerDNS servers: {sync['sync_s']:.2f} s "
          f"(raw PATCH floor {sync['raw_patch_s']:.2f} s, ratio {results['sync_ratio_to_raw']}); "
          f"seeding Route53 took {sync['seed_route53_s']:.2f} s")
    print(f"  of which reading: Route53 (moto) {sync['read_route53_s']:.2f} s, one PowerDNS "
          f"{sync['read_one_powerdns_s']:.2f} s")


if __name__ == "__main__":
    main()
