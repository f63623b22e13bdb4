"""The dns role keeps PowerDNS in sync with the spec: changed values and TTLs, removed records.

From provisioned hosts, a derived spec changes records and the hosts are provisioned with it;
every dns host is then asked over real DNS, by address, with the answer's authority flag checked.
A second spec removes records, and they must be gone from every dns host.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest
import yaml

from tests.fixtures.lab import lab_host
from tests.fixtures.lab_states import LabStates, hosts_in
from toolkit.spec import load_spec
from toolkit.targets.baremetal.provision import provision_baremetal

from .labspec import derived_spec

pytestmark = [pytest.mark.lab, pytest.mark.timeout(1800)]

def spec_with_records(lab: dict[str, Any], directory: Path, records: list[dict[str, Any]]) -> Path:
    """A copy of the lab's spec whose ``dns.records`` are ``records``."""
    path = derived_spec(Path(lab["spec"]), directory)
    data = yaml.safe_load(path.read_text())
    data["dns"]["records"] = records
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def ask(server: str, name: str, rtype: str) -> tuple[str, int | None, list[str]]:
    """(rcode, TTL, sorted values) of ``name``/``rtype`` in an authoritative answer from ``server``."""
    query = dns.message.make_query(name, rtype)
    for attempt in range(3):  # UDP on a busy machine: retry a lost datagram, never judge by time
        try:
            answer = dns.query.udp(query, server, timeout=5)
            break
        except dns.exception.Timeout:
            if attempt == 2:
                raise
            time.sleep(1)
    assert answer.flags & dns.flags.AA, f"{server} is not authoritative for {name}"
    rrset = answer.get_rrset(answer.answer, dns.name.from_text(name), dns.rdataclass.IN,
                             dns.rdatatype.from_text(rtype))
    if rrset is None:
        return dns.rcode.to_text(answer.rcode()), None, []
    return dns.rcode.to_text(answer.rcode()), rrset.ttl, sorted(r.to_text() for r in rrset)


def provision(spec: Path) -> dict[str, Any]:
    result = provision_baremetal(load_spec(spec))
    assert result.ok, result.summary_lines()
    return result.to_json()


def changed_tasks(run: dict[str, Any], hosts: Iterable[str]) -> dict[str, int]:
    """Host -> tasks changed, from the recap's counts, for every host of the run: the records' sync
    (under ``no_log``: it handles the API key) changes the dns hosts and nothing else changes."""
    dns_hosts = set(hosts)
    assert set(run["changes_hidden"]) == dns_hosts, run["changes_hidden"]
    assert run["changes"] == [], run["changes"]
    return {host: stats["changed"] for host, stats in run["hosts"].items() if stats["changed"]}


def test_records_changed_then_removed_in_the_spec_follow_on_every_dns_host(
        lab_provisioned: dict[str, Any], lab_states: LabStates, tmp_path: Path) -> None:
    lab = lab_provisioned
    spec_dns = yaml.safe_load(Path(lab["spec"]).read_text())["dns"]
    zone, records = spec_dns["zone"], spec_dns["records"]
    by_key = {(r["name"], r["type"]): r for r in records}
    # The records this test changes and removes are the reference service's own.
    assert {("@", "A"), ("www", "CNAME"), ("@", "MX"), ("@", "TXT"), ("@", "CAA")} <= set(by_key)
    assert by_key[("@", "MX")]["values"] == [f"10 mail.{zone}"]
    assert by_key[("@", "TXT")]["ttl"] not in (60, 600, 900)  # the TTLs set below must be changes
    servers = {host: lab_host(lab, host)["address"] for host in hosts_in(lab, "dns")}
    web = sorted(lab_host(lab, host)["address"] for host in hosts_in(lab, "web"))
    lab_states.changed()

    # 1. A new value and TTL (MX), a new TTL alone (TXT, and the apex A that points at the web hosts).
    changed = [dict(r) for r in records]
    for record in changed:
        if (record["name"], record["type"]) == ("@", "MX"):
            record.update(values=[f"20 mx2.{zone}"], ttl=900)
        elif (record["name"], record["type"]) == ("@", "TXT"):
            record.update(ttl=600)
        elif (record["name"], record["type"]) == ("@", "A"):
            record.update(ttl=60)
    run = provision(spec_with_records(lab, tmp_path / "changed", changed))
    assert changed_tasks(run, servers) == {host: 1 for host in servers}  # the records' sync
    for host, server in servers.items():
        assert ask(server, zone, "MX") == ("NOERROR", 900, [f"20 mx2.{zone}"]), host
        assert ask(server, zone, "TXT") == ("NOERROR", 600, ['"v=spf1 -all"']), host
        assert ask(server, zone, "A") == ("NOERROR", 60, web), host
        # Untouched records stay as they were.
        www_ttl = by_key[("www", "CNAME")]["ttl"]
        assert ask(server, f"www.{zone}", "CNAME") == ("NOERROR", www_ttl, [zone]), host
        assert ask(server, zone, "CAA") == ("NOERROR", by_key[("@", "CAA")]["ttl"],
                                            ['0 issue "letsencrypt.org"']), host

    # 2. Two records removed: a name of its own (www) and one type at the apex (CAA).
    kept = [r for r in changed if (r["name"], r["type"]) not in {("www", "CNAME"), ("@", "CAA")}]
    run = provision(spec_with_records(lab, tmp_path / "removed", kept))
    assert changed_tasks(run, servers) == {host: 1 for host in servers}
    for host, server in servers.items():
        assert ask(server, f"www.{zone}", "CNAME") == ("NXDOMAIN", None, []), host
        assert ask(server, zone, "CAA") == ("NOERROR", None, []), host
        assert ask(server, zone, "MX") == ("NOERROR", 900, [f"20 mx2.{zone}"]), host
        assert ask(server, zone, "A") == ("NOERROR", 60, web), host
