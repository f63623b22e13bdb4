"""The one normalization of DNS names and record data, used by every provider, the ``dns`` role's
filter, the Pulumi stack and the lab.

Names are absolute, lower case, with a trailing dot; ``@`` is the apex, a name without a trailing
dot is relative to the zone, and Route53's ``\\052`` is ``*``. Record data is in zone-file
presentation form as dnspython writes it (what PowerDNS's API and Route53 both take): names in
data are absolute whether or not they end in a dot (Route53's reading, and the spec's), TXT
as quoted strings of at most 255 bytes with ``"`` and ``\\`` escaped. A TXT value
that does not start with a quote is plain text (the spec's spelling) and is quoted and split here.
Two spellings of the same data normalize to the same string, so comparing strings compares data.
"""

from __future__ import annotations

import functools
import ipaddress

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from toolkit.errors import BadInput

TXT_CHUNK = 255  # bytes per character-string (RFC 1035 3.3)


def zone_name(zone: str) -> str:
    """``example.com`` or ``Example.COM.`` -> ``example.com.``."""
    return zone.strip().rstrip(".").lower() + "."


def fqdn(name: str, zone: str) -> str:
    """A record's absolute name: ``@`` is the apex, names without a trailing dot are relative."""
    name = name.strip().replace("\\052", "*").replace("\\057", "/")
    zone = zone_name(zone)
    if name in ("@", ""):
        return zone
    if name.endswith("."):
        return name.lower()
    return f"{name}.{zone}".lower()


def relative(name: str, zone: str) -> str:
    """The name relative to ``zone`` (``@`` for the apex), as the spec writes it."""
    name, zone = fqdn(name, zone), zone_name(zone)
    if name == zone:
        return "@"
    return name[: -len(zone) - 1] if name.endswith("." + zone) else name


def quote_txt(text: str) -> str:
    """Plain text as TXT presentation form: quoted character-strings of at most 255 bytes."""
    raw = text.encode()
    chunks = [raw[i:i + TXT_CHUNK] for i in range(0, len(raw), TXT_CHUNK)] or [b""]
    return " ".join('"' + _escape(chunk) + '"' for chunk in chunks)


def _escape(chunk: bytes) -> str:
    out = []
    for byte in chunk:
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= byte < 0x7F:
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return "".join(out)


@functools.lru_cache(maxsize=65536)  # a zone's values recur on every provider and every read
def rdata(rtype: str, value: str) -> str:
    """``value`` of a ``rtype`` record in normalized presentation form (names absolute).

    Raises ``BadInput`` naming the type and value when it is not valid data of that type.
    """
    rtype = rtype.upper()
    text = value.strip()
    if rtype in ("A", "AAAA"):  # the bulk of big zones: no parser needed
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            raise BadInput(f"{rtype} value {value!r} is not valid record data: not an address") from None
        if address.version != (4 if rtype == "A" else 6):
            raise BadInput(f"{rtype} value {value!r} is not valid record data: wrong address family")
        return str(address)
    if rtype in ("TXT", "SPF") and not text.startswith('"'):
        text = quote_txt(value)
    try:
        parsed = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text,
                                     origin=dns.name.root, relativize=False)
    except (dns.exception.DNSException, ValueError) as exc:
        raise BadInput(f"{rtype} value {value!r} is not valid record data: {exc}") from None
    return str(parsed.to_text(relativize=False)).lower() if rtype in _CASELESS else str(
        parsed.to_text(relativize=False))


# Types whose data is names and numbers only: DNS compares them without case.
_CASELESS = {"A", "AAAA", "CNAME", "NS", "PTR", "MX", "SRV"}


def txt_text(value: str) -> str:
    """A normalized TXT value back as the plain text it carries (character-strings joined)."""
    parsed = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.TXT, value)
    return b"".join(parsed.strings).decode(errors="backslashreplace")  # type: ignore[attr-defined]
