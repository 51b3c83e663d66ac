"""Which webhook URLs PixTools may call: http(s) to hosts that resolve only to public addresses.

``check`` parses the URL strictly, resolves the host once and checks every address. The
``Target`` it returns carries the checked address, and the sender connects to exactly that
address (with the original ``Host`` header and TLS name), so a second DNS answer can never
point a delivery somewhere else (DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from ..config import Network
from ..config import parse_networks as parse_networks  # the allowlist setting's parser

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

MAX_URL_LENGTH = 2048
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
# IPv6 ranges that embed an IPv4 address (6to4, NAT64, Teredo): they could smuggle a
# private IPv4 target past a check that only looks at the IPv6 form.
_EMBEDS_IPV4 = tuple(
    ipaddress.ip_network(net) for net in ("2002::/16", "64:ff9b::/96", "64:ff9b:1::/48",
                                          "2001::/32")
)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


class UnsafeURL(ValueError):
    """The URL may not be called; the message says why, for the person who gave it."""


@dataclass(frozen=True)
class Target:
    """A checked URL: connect to ``address``, send ``host_header``, verify TLS for ``host``."""

    url: str
    scheme: str
    host: str
    port: int
    path: str
    address: str
    addresses: tuple[str, ...] = field(default=())

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    @property
    def breaker_key(self) -> str:
        """The destination the circuit breaker tracks: host, and port when not the default."""
        return self.host_header


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (one lookup; the caller checks them all)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for info in infos:
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def why_not_public(address: IPAddress) -> str | None:
    """``None`` for a public unicast address, else the category that makes it unsafe."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"an IPv4-mapped IPv6 address (::ffff:{address.ipv4_mapped})"
        if any(address in net for net in _EMBEDS_IPV4):
            return "an IPv6 address that embeds an IPv4 one (6to4, NAT64 or Teredo)"
        if address.is_site_local:
            return "a site-local address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (this includes cloud metadata at 169.254.169.254)"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "a carrier-grade NAT address (100.64.0.0/10)"
    if address.is_multicast:
        return "a multicast address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private-network address"
    if not address.is_global:
        return "not a public address"
    return None


def _parse_host(raw_host: str, netloc: str) -> str:
    """Validate the host part; refuse spellings that parsers disagree on."""
    if netloc.startswith("[") or raw_host.startswith("["):
        inner = netloc[1:netloc.find("]")] if "]" in netloc else ""
        if "%" in inner:
            raise UnsafeURL("IPv6 zone identifiers are not allowed in a webhook URL.")
        try:
            return str(ipaddress.IPv6Address(inner))
        except ValueError:
            raise UnsafeURL(f"[{inner}] is not a valid IPv6 address.") from None
    host = raw_host.lower().rstrip(".")
    if not host:
        raise UnsafeURL("The webhook URL has no host name.")
    # Every label a number (decimal, octal 0177, hex 0x7f): an IPv4 address, however spelt.
    if all(_NUMERIC_LABEL.match(label) for label in host.split(".")):
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            pass
        try:
            meaning = f" (it means {socket.inet_ntoa(socket.inet_aton(host))})"
        except OSError:
            meaning = ""
        raise UnsafeURL(
            f"{raw_host!r} is an unusual spelling of an IPv4 address{meaning}: write "
            "addresses as four decimal numbers, or better, use a host name."
        )
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise UnsafeURL(f"{raw_host!r} is not a valid host name.") from None
    if not all(_LABEL.match(label) for label in ascii_host.split(".")):
        raise UnsafeURL(f"{raw_host!r} is not a valid host name.")
    return ascii_host


def parse(url: str) -> tuple[str, str, int, str]:
    """Split a webhook URL into scheme, host, port and path; refuse anything ambiguous."""
    if not url or len(url) > MAX_URL_LENGTH:
        raise UnsafeURL(f"Give a webhook URL of at most {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\\" for ch in url):
        raise UnsafeURL("The webhook URL contains spaces, control characters or backslashes.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"The webhook URL cannot be parsed: {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURL("A webhook URL must start with http:// or https://.")
    if "@" in parts.netloc:
        raise UnsafeURL("User names or passwords in a webhook URL are not allowed.")
    host = _parse_host(parts.hostname or "", parts.netloc)
    if port == 0:
        raise UnsafeURL("Port 0 cannot be called.")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), path


def check(
    url: str,
    *,
    allow: Sequence[Network] = (),
    resolver: Resolver | None = None,
    trust_any_address: bool = False,
) -> Target:
    """Check ``url`` and return where to connect; raise ``UnsafeURL`` with the reason.

    ``allow`` lists networks the operator opened for on-premise receivers.
    ``trust_any_address`` is only for this instance's own sandbox receiver.
    """
    scheme, host, port, path = parse(url)
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = (resolver or system_resolver)(host, port)
        except (OSError, UnicodeError):
            addresses = []
        if not addresses:
            raise UnsafeURL(f"The host {host!r} does not resolve: check the URL.")
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if trust_any_address or any(ip in net for net in allow):
            continue
        reason = why_not_public(ip)
        if reason:
            shown = host if literal is not None else f"{host} resolves to {ip}, which"
            raise UnsafeURL(f"Webhooks may only call public addresses: {shown} is {reason}.")
    return Target(url=url, scheme=scheme, host=host, port=port, path=path,
                  address=addresses[0], addresses=tuple(addresses))
