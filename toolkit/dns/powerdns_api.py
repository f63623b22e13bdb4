"""PowerDNS's HTTP API: the one client for it (the provider, the lab's registry and mirror use it).

Only what zone work needs: read a zone, create one, replace or delete rrsets, set the zone's
``account`` (the ownership mark, see ``toolkit.dns.ownership``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests

from toolkit.errors import CheckFailed

log = logging.getLogger(__name__)

TIMEOUT = 10.0


class PowerDnsError(CheckFailed):
    """The PowerDNS API refused a request or did not answer."""


@dataclass
class PowerDnsApi:
    url: str  # http://host:port (the API root /api/v1/servers/localhost is added here)
    key: str

    def __post_init__(self) -> None:
        self.session = requests.Session()
        self.session.headers["X-API-Key"] = self.key

    def __repr__(self) -> str:  # never the key
        return f"PowerDnsApi({self.url!r})"

    @property
    def base(self) -> str:
        root = self.url.rstrip("/")
        return root if root.endswith("/servers/localhost") else f"{root}/api/v1/servers/localhost"

    def _call(self, method: str, path: str, *, ok: tuple[int, ...], body: Any = None) -> Any:
        try:
            response = self.session.request(method, f"{self.base}{path}", json=body, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise PowerDnsError(f"PowerDNS API at {self.url} did not answer {method} {path}: "
                                f"{type(exc).__name__}") from None
        if response.status_code not in ok:
            try:
                detail = response.json().get("error", response.text)
            except ValueError:
                detail = response.text
            raise PowerDnsError(f"PowerDNS API at {self.url} refused {method} {path}: "
                                f"HTTP {response.status_code} {str(detail).strip()[:300]}")
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:  # "Not Found" and such come as plain text
            return None

    def zone(self, zone: str) -> dict[str, Any] | None:
        """The zone with its rrsets, or None if the server has no such zone."""
        found = self._call("GET", f"/zones/{zone}", ok=(200, 404, 422))
        return found if isinstance(found, dict) and "rrsets" in found else None

    def create_zone(self, zone: str, rrsets: list[dict[str, Any]], *, nameservers: list[str] | None = None,
                    account: str = "", soa_edit_api: str = "DEFAULT") -> None:
        self._call("POST", "/zones", ok=(201,), body={
            "name": zone, "kind": "Native", "soa_edit_api": soa_edit_api, "account": account,
            "nameservers": nameservers or [], "rrsets": rrsets})

    def patch(self, zone: str, rrsets: list[dict[str, Any]]) -> None:
        if rrsets:
            self._call("PATCH", f"/zones/{zone}", ok=(204,), body={"rrsets": rrsets})

    def set_account(self, zone: str, account: str) -> None:
        self._call("PUT", f"/zones/{zone}", ok=(204,), body={"account": account})

    def alive(self) -> bool:
        try:
            self._call("GET", "", ok=(200,))
        except PowerDnsError:
            return False
        return True


def replace(name: str, rtype: str, ttl: int, contents: list[str]) -> dict[str, Any]:
    """A PATCH rrset that replaces ``name``/``rtype`` with ``contents``."""
    return {"name": name, "type": rtype, "ttl": int(ttl), "changetype": "REPLACE",
            "records": [{"content": c, "disabled": False} for c in contents]}


def delete(name: str, rtype: str) -> dict[str, Any]:
    return {"name": name, "type": rtype, "changetype": "DELETE"}
