"""The PowerDNS and RFC 2136 providers against a real PowerDNS server of the test's own.

One ``pdns_server`` (Debian's, sqlite backend) on loopback ports, with its HTTP API, dynamic
updates and zone transfers allowed only with a TSIG key. Each zone is read back through the
provider and asked over DNS.
"""

from __future__ import annotations

import base64
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.dns.records import every_type, with_rrsets
from tests.fixtures.postgres import free_port
from toolkit.dns import query
from toolkit.dns.plan import make_plan, own_records
from toolkit.dns.powerdns_api import PowerDnsApi, replace
from toolkit.dns.providers.powerdns import PowerDnsProvider
from toolkit.dns.providers.rfc2136 import Rfc2136Provider, Tsig
from toolkit.dns.zone import Zone, make_rrset
from toolkit.errors import CheckFailed
from toolkit.lab.dns_world import write_pdns_config
from toolkit.spec.secrets import Secret

KEY_NAME = "toolkit-test."


@dataclass
class Server:
    api: PowerDnsApi
    dns: str  # 127.0.0.1:PORT
    port: int
    tsig_secret: str


@pytest.fixture(scope="module")
def pdns(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    binary = shutil.which("pdns_server", path="/usr/sbin:/usr/bin")
    if binary is None:
        pytest.skip("pdns_server is missing: apt-get install pdns-server pdns-backend-sqlite3")
    directory = tmp_path_factory.mktemp("pdns")
    port, api_port = free_port(), free_port()
    api_key = secrets.token_urlsafe(16)
    write_pdns_config(directory, address="127.0.0.1", port=port, api_address=f"127.0.0.1:{api_port}",
                      api_key=api_key, allow_from="127.0.0.0/8",
                      extra=("dnsupdate=yes", "allow-dnsupdate-from=127.0.0.0/8", "disable-axfr=no",
                             "allow-axfr-ips=127.0.0.0/8"))
    log = (directory / "pdns.log").open("wb")
    proc = subprocess.Popen([binary, f"--config-dir={directory}"], stdout=log, stderr=subprocess.STDOUT)
    api = PowerDnsApi(f"http://127.0.0.1:{api_port}", api_key)
    deadline = time.monotonic() + 20
    while not api.alive():
        assert proc.poll() is None and time.monotonic() < deadline, (directory / "pdns.log").read_text()
        time.sleep(0.1)
    tsig = base64.b64encode(secrets.token_bytes(32)).decode()
    response = api.session.post(f"{api.base}/tsigkeys", json={"name": KEY_NAME, "algorithm": "hmac-sha256",
                                                              "key": tsig}, timeout=10)
    assert response.status_code == 201, response.text
    try:
        yield Server(api, f"127.0.0.1:{port}", port, tsig)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


def new_zone(server: Server, name: str, *, tsig: bool = False) -> str:
    zone = f"{name}.example."
    server.api.create_zone(zone, [replace(zone, "SOA", 60, [f"ns1.{zone} hostmaster.{zone} 1 60 60 60 60"]),
                                  replace(zone, "NS", 60, [f"ns1.{zone}"]),
                                  replace(f"ns1.{zone}", "A", 60, ["192.0.2.53"])])
    if tsig:
        base = f"{server.api.base}/zones/{zone}"
        response = server.api.session.put(f"{base}/metadata/TSIG-ALLOW-DNSUPDATE", timeout=10,
                                          json={"kind": "TSIG-ALLOW-DNSUPDATE", "metadata": [KEY_NAME]})
        assert response.status_code == 200, response.text
        # Transfers (TSIG-ALLOW-AXFR) are set as the zone's primary keys.
        response = server.api.session.put(base, json={"master_tsig_key_ids": [KEY_NAME]}, timeout=10)
        assert response.status_code == 204, response.text
    return zone


def assert_served(server: Server, zone: Zone) -> None:
    own = own_records(zone)
    for rrset in zone.sorted():
        if rrset.key in own:
            continue
        answer = query.ask(server.dns, rrset.name, rrset.type)
        assert (answer.values, answer.ttl) == (rrset.values, rrset.ttl), rrset


def sync_every_type(provider: PowerDnsProvider | Rfc2136Provider, server: Server) -> Zone:
    existing = provider.populate()
    desired = with_rrsets(existing, every_type(provider.zone))
    plan = make_plan(desired, existing, provider)
    assert plan.count("create") == len(every_type(provider.zone))
    provider.apply(plan)
    after = provider.populate()
    assert make_plan(desired, after, provider).changes == []  # read back: the same records
    assert_served(server, after)
    return desired


def test_powerdns_provider_holds_and_serves_every_type(pdns: Server) -> None:
    zone = new_zone(pdns, "api")
    provider = PowerDnsProvider("powerdns:test", zone, [pdns.dns], api=pdns.api)
    desired = sync_every_type(provider, pdns)
    # A change and a deletion, then the provider's own account mark.
    changed = with_rrsets(desired, [make_rrset("multi", "A", 9, ["192.0.2.7"], zone)])
    del changed.rrsets[(f"caa.{zone}", "CAA")]
    provider.apply(make_plan(changed, provider.populate(), provider))
    assert_served(pdns, provider.populate())
    assert query.ask(pdns.dns, f"caa.{zone}", "CAA").values == ()
    provider.set_account("toolkit-dns")
    assert provider.account() == "toolkit-dns"


def test_rfc2136_provider_transfers_updates_and_serves_every_type(pdns: Server) -> None:
    zone = new_zone(pdns, "rfc", tsig=True)
    provider = Rfc2136Provider("rfc2136:test", zone, [pdns.dns], server="127.0.0.1", port=pdns.port,
                               tsig=Tsig(KEY_NAME, "hmac-sha256", Secret(pdns.tsig_secret)))
    desired = sync_every_type(provider, pdns)
    changed = with_rrsets(desired, [make_rrset("long", "TXT", 9, ["short now"], zone)])
    del changed.rrsets[(f"_sip._tcp.{zone}", "SRV")]
    provider.apply(make_plan(changed, provider.populate(), provider))
    assert_served(pdns, provider.populate())
    assert query.ask(pdns.dns, f"_sip._tcp.{zone}", "SRV").values == ()


def test_rfc2136_with_a_wrong_key_is_refused_and_changes_nothing(pdns: Server) -> None:
    zone = new_zone(pdns, "refused", tsig=True)
    wrong = base64.b64encode(secrets.token_bytes(32)).decode()
    provider = Rfc2136Provider("rfc2136:wrong", zone, [pdns.dns], server="127.0.0.1", port=pdns.port,
                               tsig=Tsig(KEY_NAME, "hmac-sha256", Secret(wrong)))
    with pytest.raises(CheckFailed, match=r"127\.0\.0\.1"):
        provider.populate()
    rrset = make_rrset("x", "A", 60, ["192.0.2.1"], zone)
    with pytest.raises(CheckFailed, match=r"127\.0\.0\.1"):
        provider.apply(make_plan(Zone(zone, {rrset.key: rrset}), Zone(zone), provider))
    assert query.ask(pdns.dns, rrset.name, "A").values == ()


def test_the_secret_is_not_in_the_provider_repr(pdns: Server) -> None:
    provider = Rfc2136Provider("rfc2136:repr", "x.example.", [], server="127.0.0.1", port=pdns.port,
                               tsig=Tsig(KEY_NAME, "hmac-sha256", Secret(pdns.tsig_secret)))
    assert pdns.tsig_secret not in repr(provider) + repr(provider.tsig)
    assert pdns.api.key not in repr(pdns.api)

