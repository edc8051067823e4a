"""The SSRF guard: every refusal has a stable reason code; redirects are re-checked; bodies are capped."""

from __future__ import annotations

import ipaddress

import httpx2
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ucp.downstream.urlsafety import address_problem, check_url, redact_url, safe_fetch
from ucp.errors import ManualError, UnsafeURLError

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("169.254.169.254", "metadata"),
        ("fd00:ec2::254", "metadata"),
        ("169.254.10.1", "link_local"),
        ("fe80::1", "link_local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "private"),
        ("fc00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "metadata"),
        ("64:ff9b::a9fe:a9fe", "metadata"),
        ("240.0.0.1", "reserved"),
        ("0.1.2.3", "reserved"),
        ("8.8.8.8", None),
        ("2606:4700::1111", None),
        ("127.0.0.1", None),
        ("::1", None),
    ],
)
def test_address_rules(address: str, reason: str | None) -> None:
    assert address_problem(ipaddress.ip_address(address), allow_private=False, allow_loopback=True) == reason


def test_private_and_loopback_follow_the_settings() -> None:
    ten, lo = ipaddress.ip_address("10.1.2.3"), ipaddress.ip_address("127.0.0.2")
    assert address_problem(ten, allow_private=True, allow_loopback=True) is None
    assert address_problem(lo, allow_private=True, allow_loopback=False) == "loopback"
    # allowing private networks never opens metadata or link-local addresses
    assert (
        address_problem(ipaddress.ip_address("169.254.169.254"), allow_private=True, allow_loopback=True)
        == "metadata"
    )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "scheme_not_allowed"),
        ("gopher://127.0.0.1/", "scheme_not_allowed"),
        ("ftp://example.com/x", "scheme_not_allowed"),
        ("/relative/path", "scheme_not_allowed"),
        ("http://", "invalid_url"),
        ("http://user:secret@127.0.0.1/utcp", "credentials_in_url"),
        ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
        ("http://169.254.169.254/latest/meta-data", "metadata"),
        ("http://[fd00:ec2::254]/latest", "metadata"),
        ("http://10.0.0.1/utcp", "private"),
        ("http://[::ffff:192.168.0.1]/", "private"),
        ("http://0.0.0.0:8080/", "unspecified"),
        ("https://name.invalid/utcp", "unresolvable"),
    ],
)
async def test_check_url_refusals(url: str, reason: str) -> None:
    with pytest.raises(UnsafeURLError) as info:
        await check_url(url, allow_private=False, allow_loopback=True)
    assert info.value.code == "unsafe_url"
    assert info.value.details["reason"] == reason
    assert "secret" not in info.value.message


async def test_loopback_names_resolve_and_follow_the_setting() -> None:
    await check_url("http://127.0.0.1:9/utcp", allow_private=False, allow_loopback=True)
    await check_url("http://localhost:9/utcp", allow_private=False, allow_loopback=True)
    for url in ("http://127.0.0.1:9/", "http://localhost:9/", "http://2130706433/"):
        with pytest.raises(UnsafeURLError) as info:
            await check_url(url, allow_private=False, allow_loopback=False)
        assert info.value.details["reason"] == "loopback"


async def test_private_networks_when_allowed() -> None:
    await check_url("http://10.0.0.1/utcp", allow_private=True, allow_loopback=False)
    with pytest.raises(UnsafeURLError):
        await check_url("http://169.254.169.254/", allow_private=True, allow_loopback=True)


def test_redact_url_drops_credentials_and_query() -> None:
    assert redact_url("https://u:p@host.example:8443/a/b?token=x#f") == "https://host.example:8443/a/b"


def _app() -> Starlette:
    async def metadata_redirect(request: Request) -> Response:
        return RedirectResponse("http://169.254.169.254/latest/meta-data", status_code=302)

    async def good_redirect(request: Request) -> Response:
        return RedirectResponse("/manual", status_code=307)

    async def manual(request: Request) -> Response:
        return Response(b'{"utcp_version": "1.2.0", "tools": []}', media_type="application/json")

    async def big(request: Request) -> Response:
        return Response(b"x" * 5000, media_type="application/json")

    async def missing(request: Request) -> Response:
        return Response(b"nope", status_code=404)

    return Starlette(
        routes=[
            Route("/evil", metadata_redirect),
            Route("/moved", good_redirect),
            Route("/manual", manual),
            Route("/big", big),
            Route("/missing", missing),
        ]
    )


async def _fetch(path: str, max_bytes: int = 4096) -> object:
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=_app())) as client:
        return await safe_fetch(
            f"http://127.0.0.1{path}",
            allow_private=False,
            allow_loopback=True,
            max_bytes=max_bytes,
            timeout=5,
            client=client,
        )


async def test_redirect_hops_are_rechecked() -> None:
    with pytest.raises(UnsafeURLError) as info:
        await _fetch("/evil")
    assert info.value.details["reason"] == "metadata"


async def test_safe_redirect_is_followed() -> None:
    fetched = await _fetch("/moved")
    assert fetched.url.endswith("/manual")  # type: ignore[attr-defined]
    assert b"utcp_version" in fetched.body  # type: ignore[attr-defined]


async def test_body_is_capped() -> None:
    with pytest.raises(ManualError) as info:
        await _fetch("/big", max_bytes=1024)
    assert info.value.details["reason"] == "too_large"


async def test_http_error_status_is_a_manual_error() -> None:
    with pytest.raises(ManualError) as info:
        await _fetch("/missing")
    assert info.value.details["status"] == 404
