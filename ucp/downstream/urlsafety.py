"""SSRF guard for every URL UCP fetches on someone else's say-so (manuals, services).

``check_url`` refuses a URL unless its scheme is http(s) and EVERY address its
host resolves to is allowed: never link-local, cloud metadata, multicast,
unspecified or reserved addresses; private ranges only with ``allow_private``;
loopback only with ``allow_loopback`` (the local default, since services on the
same machine register with ``127.0.0.1`` URLs). Each refusal is an
``UnsafeURLError`` whose ``details['reason']`` is a stable code (``REASONS``).

``safe_fetch`` GETs a checked URL without following redirects blindly: each hop
is re-checked, and the body is read up to ``max_bytes``. A DNS answer can still
change between the check and the connection (rebinding); the check narrows the
window, it does not pin the address.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import anyio

from ucp.errors import DownstreamUnavailableError, ManualError, UnsafeURLError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

REASONS = (
    "invalid_url",  # not parseable, or no host
    "scheme_not_allowed",  # anything but http/https (file:, gopher:, ftp:...)
    "credentials_in_url",  # user:password@host (secrets end up in logs)
    "metadata",  # cloud metadata endpoints (169.254.169.254, fd00:ec2::254, metadata.google.internal)
    "link_local",  # 169.254.0.0/16, fe80::/10
    "multicast",
    "unspecified",  # 0.0.0.0, ::
    "reserved",  # 0.0.0.0/8, 240.0.0.0/4, broadcast
    "loopback",  # 127.0.0.0/8, ::1 (unless allow_loopback)
    "private",  # 10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7 (unless allow_private)
    "unresolvable",  # the host has no address
    "too_many_redirects",
)

METADATA_HOSTS = frozenset(
    {"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal"}
)
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)
_PRIVATE_NETS = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7", "fec0::/10")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _unsafe(url: str, reason: str, message: str) -> UnsafeURLError:
    return UnsafeURLError(
        f"refusing to fetch {redact_url(url)}: {message}", reason=reason, url=redact_url(url)
    )


def redact_url(url: str) -> str:
    """The URL without credentials, query or fragment (safe to log and to echo back)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid url>"
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme}://{host}{port}{parts.path}" if parts.scheme and host else url.split("?")[0][:200]


def _embedded_v4(addr: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.ipv4_mapped is not None:
            return addr.ipv4_mapped
        if addr.sixtofour is not None:
            return addr.sixtofour
        if addr in _NAT64:
            return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def address_problem(addr: IPAddress, *, allow_private: bool, allow_loopback: bool) -> str | None:
    """The reason code that forbids ``addr``, or ``None`` if it may be fetched."""
    inner = _embedded_v4(addr)
    if inner is not None:
        return address_problem(inner, allow_private=allow_private, allow_loopback=allow_loopback)
    if addr in METADATA_ADDRESSES:
        return "metadata"
    if addr.is_unspecified:
        return "unspecified"
    if addr.is_link_local:
        return "link_local"
    if addr.is_multicast:
        return "multicast"
    if addr.is_loopback:
        return None if allow_loopback else "loopback"
    if any(addr in net for net in _PRIVATE_NETS):
        return None if allow_private else "private"
    if addr.is_reserved or (
        isinstance(addr, ipaddress.IPv4Address) and (addr.packed[0] == 0 or int(addr) == 0xFFFFFFFF)
    ):
        return "reserved"
    return None


_MESSAGES = {
    "metadata": "it points at a cloud metadata endpoint",
    "unspecified": "it points at an unspecified address (0.0.0.0 / ::)",
    "link_local": "it points at a link-local address",
    "multicast": "it points at a multicast address",
    "reserved": "it points at a reserved address",
    "loopback": "it points at this machine (loopback); set [http] allow_loopback_fetch = true to allow it",
    "private": "it points at a private network address; set [http] allow_private_networks = true to allow it",
}


def parse_checked(url: str) -> tuple[str, int]:
    """Static checks (no DNS): scheme, host, credentials, metadata names. Returns (host, port)."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port
    except ValueError:
        raise _unsafe(url, "invalid_url", "it is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise _unsafe(
            url, "scheme_not_allowed", f"scheme {parts.scheme or '(none)'!r} is not allowed; use http(s)"
        )
    if not host:
        raise _unsafe(url, "invalid_url", "it has no host")
    if parts.username is not None or parts.password is not None:
        raise _unsafe(url, "credentials_in_url", "credentials in URLs are refused; use headers or variables")
    if host in METADATA_HOSTS:
        raise _unsafe(url, "metadata", _MESSAGES["metadata"])
    return host, port or (443 if parts.scheme.lower() == "https" else 80)


async def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    out: list[IPAddress] = []
    for info in infos:
        raw = str(info[4][0]).split("%", 1)[0]
        try:
            out.append(ipaddress.ip_address(raw))
        except ValueError:
            continue
    return out


async def check_url(url: str, *, allow_private: bool = False, allow_loopback: bool = True) -> None:
    """Raise ``UnsafeURLError`` unless ``url`` and every address of its host may be fetched."""
    host, port = parse_checked(url)
    addresses = await resolve(host, port)
    if not addresses:
        raise _unsafe(url, "unresolvable", f"the host {host!r} does not resolve")
    for addr in addresses:
        problem = address_problem(addr, allow_private=allow_private, allow_loopback=allow_loopback)
        if problem is not None:
            raise _unsafe(
                url, problem, _MESSAGES[problem] + ("" if str(addr) == host else f" ({host} -> {addr})")
            )


def check_url_sync(url: str, *, allow_private: bool = False, allow_loopback: bool = True) -> None:
    """``check_url`` for synchronous callers (a redirect hook): resolves with the blocking resolver."""
    host, port = parse_checked(url)
    try:
        addresses: list[IPAddress] = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            infos = []
        addresses = []
        for info in infos:
            try:
                addresses.append(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]))
            except ValueError:
                continue
    if not addresses:
        raise _unsafe(url, "unresolvable", f"the host {host!r} does not resolve")
    for addr in addresses:
        problem = address_problem(addr, allow_private=allow_private, allow_loopback=allow_loopback)
        if problem is not None:
            raise _unsafe(
                url, problem, _MESSAGES[problem] + ("" if str(addr) == host else f" ({host} -> {addr})")
            )


def is_loopback_url(url: str) -> bool:
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return False
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Fetched:
    url: str  # the final URL (after checked redirects)
    content_type: str
    body: bytes


_REDIRECTS = frozenset({301, 302, 303, 307, 308})


async def safe_fetch(
    url: str,
    *,
    allow_private: bool,
    allow_loopback: bool,
    max_bytes: int,
    timeout: float,
    client: Any = None,
    max_redirects: int = 5,
    server: str = "",
) -> Fetched:
    """GET ``url`` with every hop checked and the body capped at ``max_bytes``.

    Raises ``UnsafeURLError`` (a refused hop), ``ManualError`` (too large, HTTP
    error status) or ``DownstreamUnavailableError`` (cannot connect, timeout).
    """
    import httpx2  # lazy: only fetching needs it

    own = client is None
    http = client or httpx2.AsyncClient(follow_redirects=False, trust_env=False)
    try:
        with anyio.fail_after(timeout):
            current = url
            for _ in range(max_redirects + 1):
                await check_url(current, allow_private=allow_private, allow_loopback=allow_loopback)
                async with http.stream(
                    "GET", current, headers={"Accept": "application/json, application/yaml;q=0.9, */*;q=0.5"}
                ) as resp:
                    if resp.status_code in _REDIRECTS and resp.headers.get("location"):
                        current = urljoin(current, resp.headers["location"])
                        continue
                    if resp.status_code >= 400:
                        raise ManualError(
                            f"{redact_url(current)} answered HTTP {resp.status_code}",
                            url=redact_url(current),
                            status=resp.status_code,
                        )
                    declared = resp.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > max_bytes:
                        raise _too_large(current, int(declared), max_bytes)
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in resp.aiter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise _too_large(current, size, max_bytes)
                        chunks.append(chunk)
                    return Fetched(str(resp.url), resp.headers.get("content-type", ""), b"".join(chunks))
            raise _unsafe(url, "too_many_redirects", f"more than {max_redirects} redirects")
    except TimeoutError:
        raise DownstreamUnavailableError(
            f"fetching {redact_url(url)} took longer than {timeout:g} s", server=server, url=redact_url(url)
        ) from None
    except httpx2.HTTPError as exc:
        raise DownstreamUnavailableError(
            f"cannot fetch {redact_url(url)}: {type(exc).__name__}", server=server, url=redact_url(url)
        ) from None
    finally:
        if own:
            await http.aclose()


def _too_large(url: str, size: int, limit: int) -> ManualError:
    return ManualError(
        f"{redact_url(url)} is larger than the {limit} bytes allowed ([http] max_response_bytes)",
        url=redact_url(url),
        size=size,
        limit=limit,
        reason="too_large",
    )
