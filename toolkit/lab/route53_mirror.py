"""What Route53's name servers do, for moto: serve over DNS exactly what the hosted zone holds.

Runs in the lab's ``route53-ns`` namespace beside a PowerDNS server: every ``INTERVAL`` it reads
the zone through the Route53 API and brings PowerDNS to it (SOA and NS included), so changes made
through the API are answered within a second. Alias records have nothing to serve and are left
out (logged once each).

    python -m toolkit.lab.route53_mirror --labdir DIR --zone-id ID --zone NAME --pdns-url URL
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from toolkit.dns.plan import make_plan
from toolkit.dns.powerdns_api import PowerDnsApi, PowerDnsError
from toolkit.dns.providers.powerdns import PowerDnsProvider
from toolkit.dns.providers.route53 import Route53Provider
from toolkit.dns.zone import Zone
from toolkit.lab.artifacts import MOTO_PORT, Secrets

log = logging.getLogger("toolkit.lab.route53_mirror")

INTERVAL = 0.2


def mirror_once(source: Route53Provider, target: PowerDnsProvider, skipped: set[str]) -> int:
    """One pass: returns how many rrsets changed."""
    desired = source.populate()
    for key, rrset in list(desired.rrsets.items()):
        if rrset.alias:
            del desired.rrsets[key]
            if rrset.label() not in skipped:
                skipped.add(rrset.label())
                log.warning("mirror: %s is an alias (%s); nothing to serve for it",
                            rrset.label(), rrset.alias)
    found = target.api.zone(target.zone)
    if found is None:
        soa = desired.rrsets[(desired.name, "SOA")]
        ns = desired.rrsets.get((desired.name, "NS"))
        target.api.create_zone(target.zone, [
            {"name": r.name, "type": r.type, "ttl": r.ttl,
             "records": [{"content": v, "disabled": False} for v in r.values]}
            for r in (soa, ns) if r is not None], soa_edit_api="")
    existing = target.populate() if found is not None else Zone(target.zone)
    plan = make_plan(desired, existing, target, everything=True)
    if plan.changes:
        target._apply(plan.changes)
    return len(plan.changes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--labdir", type=Path, required=True)
    parser.add_argument("--moto", required=True, help="moto's address")
    parser.add_argument("--zone-id", required=True)
    parser.add_argument("--zone", required=True)
    parser.add_argument("--pdns-url", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from toolkit.lab.aws_side import aws_client

    creds = Secrets.read(args.labdir)
    endpoint = f"http://{args.moto}:{MOTO_PORT}"
    source = Route53Provider("route53", args.zone, [], client=aws_client("route53", endpoint, creds),
                             hosted_zone_id=args.zone_id)
    key = (args.labdir / "secrets" / "route53_mirror_api_key").read_text().strip()
    target = PowerDnsProvider("mirror", args.zone, [], api=PowerDnsApi(args.pdns_url, key))
    skipped: set[str] = set()
    while True:
        try:
            changed = mirror_once(source, target, skipped)
            if changed:
                log.info("mirror: %d rrsets changed", changed)
        except (PowerDnsError, OSError) as exc:
            log.warning("mirror: %s", exc)
        except Exception as exc:  # moto restarting, a page that failed: try again next pass
            log.warning("mirror: %s: %s", type(exc).__name__, exc)
        time.sleep(INTERVAL)


if __name__ == "__main__":
    main()
