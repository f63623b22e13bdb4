"""Filters of the dns role: the spec's records as PowerDNS rrsets, and the changes to reach them.

Kept in Python because merging records into rrsets and diffing them is clearer here than in Jinja.
Names and record data go through the toolkit's one normalization (``toolkit.dns.normalize``), the
same the providers, the Pulumi stack and the lab use.
"""

from __future__ import annotations

from typing import Any

from toolkit.dns.normalize import fqdn as _fqdn
from toolkit.dns.normalize import rdata

# The zone's ``account`` once ``toolkit dns`` owns its records (see toolkit.dns.ownership).
OWNER_MARK = "toolkit-dns"


def dns_rrsets(spec: dict[str, Any], web_addresses: list[str], dns_addresses: list[str],
               nameservers: list[str], ns_ttl: int = 3600) -> list[dict[str, Any]]:
    """Desired rrsets (without SOA): NS, glue for in-zone nameservers, then the spec's records.

    ``target: app`` points at the web hosts (the proxies in front of the app), ``target: dns``
    at the dns hosts.
    """
    zone = spec["dns"]["zone"]
    merged: dict[tuple[str, str], dict[str, Any]] = {}

    def add(name: str, rtype: str, ttl: int, contents: list[str]) -> None:
        key = (name, rtype)
        rrset = merged.setdefault(key, {"name": name, "type": rtype, "ttl": int(ttl), "records": []})
        for content in contents:
            if content not in rrset["records"]:
                rrset["records"].append(content)

    add(zone, "NS", ns_ttl, [_fqdn(ns, zone) for ns in nameservers])
    for index, ns in enumerate(nameservers):
        host = _fqdn(ns, zone)
        if host.endswith("." + zone) and dns_addresses:
            address = dns_addresses[index % len(dns_addresses)]
            add(host, "AAAA" if ":" in address else "A", ns_ttl, [address])
    targets = {"app": web_addresses, "dns": dns_addresses}
    for record in spec["dns"]["records"]:
        name = _fqdn(record["name"], zone)
        if record.get("target"):
            addresses = targets.get(record["target"], [])
            if record["type"] == "A":
                add(name, "A", record["ttl"], [a for a in addresses if ":" not in a])
            elif record["type"] == "AAAA":
                add(name, "AAAA", record["ttl"], [a for a in addresses if ":" in a])
        else:
            add(name, record["type"], record["ttl"],
                [rdata(record["type"], value) for value in record["values"]])
    rrsets = [r for r in merged.values() if r["records"]]
    for rrset in rrsets:
        rrset["records"] = sorted(rrset["records"])
    return sorted(rrsets, key=lambda r: (r["name"], r["type"]))


def dns_rrset_changes(current: list[dict[str, Any]], desired: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The PATCH body's rrsets that turn ``current`` (from the API) into ``desired``; SOA untouched."""
    have = {
        (r["name"], r["type"]): {"ttl": int(r["ttl"]), "records": sorted(
            rdata(r["type"], x["content"]) for x in r["records"] if not x["disabled"])}
        for r in current if r["type"] != "SOA"
    }
    want = {(r["name"], r["type"]): r for r in desired}
    changes: list[dict[str, Any]] = []
    for key, rrset in want.items():
        if have.get(key) != {"ttl": rrset["ttl"], "records": rrset["records"]}:
            changes.append({"name": key[0], "type": key[1], "ttl": rrset["ttl"], "changetype": "REPLACE",
                            "records": [{"content": c, "disabled": False} for c in rrset["records"]]})
    for key in sorted(set(have) - set(want)):
        changes.append({"name": key[0], "type": key[1], "changetype": "DELETE"})
    return changes


def dns_api_form(rrsets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rrsets as the API takes them: each record a ``{content, disabled}`` object."""
    return [{**r, "records": [{"content": c, "disabled": False} for c in r["records"]]} for r in rrsets]


def dns_owned_by_toolkit(zone: dict[str, Any] | None) -> bool:
    """Whether ``toolkit dns`` owns the zone's records (the role then leaves them alone)."""
    return bool(zone) and (zone or {}).get("account") == OWNER_MARK


def dns_record_keys(spec: dict[str, Any]) -> list[str]:
    """``"<name> <TYPE>"`` for each of the spec's records (name relative to the zone), sorted, unique."""
    return sorted({f"{r['name']} {r['type']}" for r in spec["dns"]["records"]})


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "dns_rrsets": dns_rrsets,
            "dns_rrset_changes": dns_rrset_changes,
            "dns_record_keys": dns_record_keys,
            "dns_api_form": dns_api_form,
            "dns_owned_by_toolkit": dns_owned_by_toolkit,
        }
