"""The one normalization: names, and record data as every provider and the role spell it."""

from __future__ import annotations

import pytest

from toolkit.dns.normalize import fqdn, quote_txt, rdata, relative, txt_text
from toolkit.errors import BadInput

ZONE = "Example.COM"


@pytest.mark.parametrize(("name", "expected"), [
    ("@", "example.com."), ("www", "www.example.com."), ("WWW.example.com.", "www.example.com."),
    ("*", "*.example.com."), ("\\052.example.com.", "*.example.com."), ("other.org.", "other.org."),
])
def test_names_are_absolute_and_lower_case(name: str, expected: str) -> None:
    assert fqdn(name, ZONE) == expected


def test_relative_names_round_trip() -> None:
    assert relative("example.com.", ZONE) == "@"
    assert relative("a.b.example.com.", ZONE) == "a.b"
    assert fqdn(relative("*.example.com.", ZONE), ZONE) == "*.example.com."


def test_plain_txt_is_quoted_with_escapes() -> None:
    assert rdata("TXT", 'say "hi" \\ ok') == '"say \\"hi\\" \\\\ ok"'
    assert quote_txt("v=spf1 -all") == '"v=spf1 -all"'


def test_plain_and_quoted_spellings_of_the_same_txt_are_equal() -> None:
    assert rdata("TXT", "v=spf1 -all") == rdata("TXT", '"v=spf1 -all"')


def test_long_txt_is_split_into_255_byte_strings_and_joins_back() -> None:
    text = "k=" + "x" * 600
    value = rdata("TXT", text)
    assert value.count('" "') == 2  # three character-strings
    assert all(len(part) <= 255 for part in value.strip('"').split('" "'))
    assert txt_text(value) == text


def test_names_in_data_are_absolute_with_or_without_the_dot() -> None:
    assert rdata("CNAME", "Target.Example.org") == "target.example.org."
    assert rdata("MX", "10 mail.example.com") == rdata("MX", "10 mail.example.com.") == "10 mail.example.com."
    assert rdata("SRV", "0 5 443 www.example.com") == "0 5 443 www.example.com."


def test_caa_keeps_its_quoted_value() -> None:
    assert rdata("CAA", '0 issue "letsencrypt.org"') == '0 issue "letsencrypt.org"'
    assert rdata("CAA", "0 issue letsencrypt.org") == '0 issue "letsencrypt.org"'


def test_invalid_data_names_type_and_value() -> None:
    with pytest.raises(BadInput, match="A value 'not-an-address'"):
        rdata("A", "not-an-address")
