from __future__ import annotations

import asyncio
import ipaddress
from typing import Any

import pytest

from webhooks import ssrf
from webhooks.ssrf import (
    MAX_URL_LENGTH,
    UnsafeTargetError,
    check_address,
    parse_networks,
    resolve_target,
    validate_url,
)


def _reason(url: str) -> str:
    with pytest.raises(UnsafeTargetError) as caught:
        validate_url(url)
    return caught.value.reason


async def _refusal(url: str, allow: str = "") -> str:
    with pytest.raises(UnsafeTargetError) as caught:
        await resolve_target(url, allow)
    return caught.value.reason


# -- syntax ------------------------------------------------------------------------------------


def test_valid_urls_parse_with_default_ports() -> None:
    target = validate_url("https://hooks.example.com/cosource?x=1#frag")
    assert (target.scheme, target.host, target.port) == ("https", "hooks.example.com", 443)
    assert target.host_header == "hooks.example.com"
    assert target.url.fragment == ""
    assert validate_url("http://Example.COM:8080/").host_header == "example.com:8080"
    assert validate_url("http://bücher.example/").host == "xn--bcher-kva.example"
    assert validate_url("http://[2606:4700::1111]/").ip_literal == ipaddress.ip_address(
        "2606:4700::1111"
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/", "scheme_not_allowed"),
        ("file:///etc/passwd", "scheme_not_allowed"),
        ("gopher://example.com/", "scheme_not_allowed"),
        ("example.com/hook", "scheme_not_allowed"),
        ("http:///hook", "missing_host"),
        ("https://user:pw@example.com/", "userinfo_not_allowed"),
        ("https://user@example.com/", "userinfo_not_allowed"),
        ("http://example.com:0/", "invalid_port"),
        ("http://example.com:65536/", "invalid_port"),
        ("http://example.com:99999/", "invalid_port"),
        ("http://exa mple.com/", "invalid_url"),
        ("http://example.com/\r\nX-Injected: 1", "invalid_url"),
        ("http://[::1/", "invalid_url"),
        ("https://example.com/" + "a" * MAX_URL_LENGTH, "url_too_long"),
    ],
)
def test_bad_urls_are_refused_with_a_reason(url: str, reason: str) -> None:
    assert _reason(url) == reason


def test_error_messages_are_readable() -> None:
    with pytest.raises(UnsafeTargetError, match="http:// or https://"):
        validate_url("ftp://example.com/")


# -- addresses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1/", "loopback"),
        ("http://127.8.9.10:8080/", "loopback"),
        ("http://10.0.0.1/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link_local"),
        ("http://100.64.0.1/", "shared_address"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://224.0.0.1/", "multicast"),
        ("http://239.255.255.250/", "multicast"),
        ("http://255.255.255.255/", "private"),
        ("http://192.0.2.1/", "private"),
        ("http://[::1]/", "loopback"),
        ("http://[::]/", "unspecified"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:7f00:1]/", "loopback"),
        ("http://[::ffff:169.254.169.254]/", "link_local"),
        ("http://[::ffff:10.0.0.1]/", "private"),
        ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("http://[2002:a9fe:a9fe::1]/", "link_local"),  # 6to4 wrapping 169.254.169.254
        ("http://[64:ff9b::7f00:1]/", "loopback"),  # NAT64 wrapping 127.0.0.1
        ("http://[64:ff9b::a00:1]/", "private"),  # NAT64 wrapping 10.0.0.1
        ("http://[64:ff9b:1::a00:1]/", "private"),  # local-use NAT64
        ("http://[fe80::1]/", "link_local"),
        ("http://[fc00::1]/", "private"),
        ("http://[fd12:3456::1]/", "private"),
        ("http://[ff02::1]/", "multicast"),
        ("http://[fec0::1]/", "link_local"),
        ("http://[::127.0.0.1]/", "reserved"),  # deprecated IPv4-compatible form
    ],
)
async def test_non_public_addresses_are_refused(url: str, reason: str) -> None:
    assert await _refusal(url) == reason


@pytest.mark.parametrize("url", ["http://127.1/", "http://2130706433/", "http://0x7f000001/"])
async def test_odd_ipv4_spellings_are_checked_after_resolution(url: str) -> None:
    # Not IP literals to the URL parser; the system resolver reads them as 127.0.0.1.
    assert await _refusal(url) == "loopback"


async def test_localhost_is_refused_after_resolution() -> None:
    assert await _refusal("http://localhost:8080/hook") == "loopback"


async def test_public_literals_are_accepted_without_dns(fake_dns: dict[str, list[str]]) -> None:
    resolved = await resolve_target("https://93.184.215.14/hook")
    assert resolved.ip == ipaddress.ip_address("93.184.215.14")
    resolved = await resolve_target("https://[2606:4700:4700::1111]/hook")
    assert resolved.ip == ipaddress.ip_address("2606:4700:4700::1111")


async def test_a_name_is_resolved_once_and_ipv4_is_preferred(
    fake_dns: dict[str, list[str]],
) -> None:
    fake_dns["hooks.example.com"] = ["2606:4700::6810:1", "104.16.1.1", "104.16.1.2"]
    resolved = await resolve_target("https://hooks.example.com/x")
    assert resolved.ip == ipaddress.ip_address("104.16.1.1")
    assert len(resolved.addresses) == 3
    assert resolved.target.host == "hooks.example.com"


async def test_a_name_with_any_private_record_is_refused(fake_dns: dict[str, list[str]]) -> None:
    fake_dns["rebind.example.com"] = ["104.16.1.1", "10.0.0.7"]
    assert await _refusal("https://rebind.example.com/") == "private"


async def test_unresolvable_names_report_dns_error(fake_dns: dict[str, list[str]]) -> None:
    assert await _refusal("https://nowhere.example/") == "dns_error"
    fake_dns["empty.example"] = []
    assert await _refusal("https://empty.example/") == "no_address"


# -- allow-list --------------------------------------------------------------------------------


async def test_allow_listed_loopback_is_accepted() -> None:
    resolved = await resolve_target("http://127.0.0.1:9000/hook", parse_networks("127.0.0.0/8"))
    assert resolved.ip == ipaddress.ip_address("127.0.0.1")
    resolved = await resolve_target("http://localhost:9000/hook", "127.0.0.0/8")
    assert resolved.ip == ipaddress.ip_address("127.0.0.1")
    assert resolved.target.host_header == "localhost:9000"


async def test_allow_list_covers_the_mapped_form_and_connects_over_ipv4() -> None:
    resolved = await resolve_target("http://[::ffff:127.0.0.1]:9000/", "127.0.0.0/8")
    assert resolved.ip == ipaddress.ip_address("127.0.0.1")


async def test_allow_list_is_exact() -> None:
    assert await _refusal("http://10.0.0.1/", "10.1.0.0/16, 127.0.0.0/8") == "private"
    assert (await resolve_target("http://10.1.2.3/", "10.1.0.0/16, 127.0.0.0/8")).ip == (
        ipaddress.ip_address("10.1.2.3")
    )


def test_allow_networks_parsing() -> None:
    assert parse_networks("") == ()
    assert parse_networks(" 127.0.0.0/8 , ::1/128 ") == (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    with pytest.raises(ValueError):
        parse_networks("not-a-network")


def test_check_address_accepts_public_addresses() -> None:
    check_address(ipaddress.ip_address("8.8.8.8"))
    check_address(ipaddress.ip_address("2001:4860:4860::8888"))
    with pytest.raises(UnsafeTargetError):
        check_address(ipaddress.ip_address("192.168.0.1"))


# -- remembered answers ------------------------------------------------------------------------


async def test_a_remembered_answer_is_checked_on_every_attempt(
    fake_dns: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []
    loop = asyncio.get_running_loop()
    answer = loop.getaddrinfo

    async def counting(host: str, port: int, **options: Any) -> Any:
        asked.append(host)
        return await answer(host, port, **options)

    monkeypatch.setattr(loop, "getaddrinfo", counting)
    fake_dns["inside.example"] = ["10.0.0.7"]
    resolved = await resolve_target("https://inside.example/hook", "10.0.0.0/8")
    assert resolved.ip == ipaddress.ip_address("10.0.0.7")
    # The same answer, remembered, and refused without the allow-list: still a check.
    assert await _refusal("https://inside.example/other") == "private"
    assert asked == ["inside.example"]
    fake_dns["inside.example"] = ["104.16.1.1"]  # the name moved: seen once the answer is old
    assert await _refusal("https://inside.example/hook") == "private"  # still remembered
    later = ssrf._now() + ssrf.LOOKUP_TTL + 1
    monkeypatch.setattr(ssrf, "_now", lambda: later)
    assert (await resolve_target("https://inside.example/hook")).ip == ipaddress.ip_address(
        "104.16.1.1"
    )
    assert asked == ["inside.example", "inside.example"]


async def test_failed_lookups_are_not_remembered_and_saving_asks_afresh(
    fake_dns: dict[str, list[str]],
) -> None:
    assert await _refusal("https://later.example/") == "dns_error"
    fake_dns["later.example"] = ["104.16.1.1"]
    assert (await resolve_target("https://later.example/")).ip == ipaddress.ip_address("104.16.1.1")
    fake_dns["later.example"] = ["104.16.1.1", "10.0.0.7"]
    assert (await resolve_target("https://later.example/")).ip == ipaddress.ip_address("104.16.1.1")
    with pytest.raises(UnsafeTargetError) as refused:
        await resolve_target("https://later.example/", remembered=False)
    assert refused.value.reason == "private"
    assert await _refusal("https://later.example/") == "private"  # the fresh answer is kept
