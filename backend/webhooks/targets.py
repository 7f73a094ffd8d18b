"""Which webhook URLs may be called: the URL's form at registration, every address its host
resolves to before each delivery (no loopback, private, link-local or metadata address).

``check_url`` reads the URL only (and an IP literal in it), without DNS: registration
answers at once. ``resolve`` looks the host up and refuses unless every address is
globally reachable, since one private answer among public ones is enough to reach
inside. The sender then connects to an address ``resolve`` returned, never to the name
again, so a name that changes its answer between the check and the connection (DNS
rebinding) still reaches only a checked address.

``allow_private`` is development's switch (a receiver on localhost): it allows ``http``
and every address.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from urllib.parse import SplitResult, urlsplit

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

URL_MAX = 2048
# NAT64's well-known prefix (RFC 6052): ipaddress neither unwraps it, as it does IPv4-mapped
# and 6to4 addresses, nor agrees across versions on whether it is global.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_METADATA = {
    ipaddress.ip_address("169.254.169.254"): "the cloud metadata service",
    ipaddress.ip_address("fd00:ec2::254"): "the cloud metadata service",
    ipaddress.ip_address("169.254.170.2"): "the container metadata service",
}


class TargetRefused(ValueError):
    """A webhook URL that may not be called; the message says why, for the user."""


def _parts(url: str, *, allow_private: bool) -> SplitResult:
    if len(url) > URL_MAX:
        raise TargetRefused(f"the URL is longer than {URL_MAX} characters")
    if not url.isascii() or any(c <= " " or c == "\x7f" for c in url):
        raise TargetRefused(
            "the URL has spaces, control or non-ASCII characters: "
            "write them percent-encoded, and a host in its xn-- form"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise TargetRefused(f"the URL cannot be read: {exc}") from exc
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise TargetRefused(
            f"the URL must start with {' or '.join(s + '://' for s in schemes)}, "
            f"not {parts.scheme + '://' if parts.scheme else 'nothing'}"
        )
    if "@" in parts.netloc:
        raise TargetRefused("the URL may not carry a user name or password (user@host)")
    if not parts.hostname:
        raise TargetRefused("the URL has no host")
    try:
        parts.hostname.encode("idna")  # empty or overlong labels: "a..b", 64 letters
    except UnicodeError:
        raise TargetRefused(f"{parts.hostname!r} is not a valid host name") from None
    if "#" in url:
        raise TargetRefused("the URL may not have a fragment (#...)")
    return parts


def check_url(url: str, *, allow_private: bool) -> None:
    """Refuse (``TargetRefused``, a ``ValueError``) a URL that may never be a webhook.

    Only ``https`` (also ``http`` when ``allow_private``), a host, no user or password, no
    fragment, at most 2048 ASCII characters; a host written as an IP address must be a
    global one unless ``allow_private``. Names are looked up by ``resolve``, at delivery.
    """
    parts = _parts(url, allow_private=allow_private)
    if allow_private:
        return
    host = parts.hostname or ""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return
    if reason := refusal(literal):
        raise TargetRefused(f"{host} is {reason}")


def resolve(url: str, *, allow_private: bool) -> list[IPAddress]:
    """The addresses to connect to for ``url``, in the resolver's order.

    Raises ``TargetRefused`` for a URL ``check_url`` refuses or, unless ``allow_private``,
    when any address is not global; ``OSError`` (``socket.gaierror``) when the host does not
    resolve. Odd spellings of an address (``2130706433``, ``0x7f.1``) arrive here as the
    resolver reads them, so they are judged as the address they are.
    """
    parts = _parts(url, allow_private=allow_private)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except UnicodeError:
        raise TargetRefused(f"{host!r} is not a valid host name") from None
    addresses: list[IPAddress] = []
    for *_, sockaddr in answers:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if allow_private:
        return addresses
    for address in addresses:
        if reason := refusal(address):
            logger.info("webhook target %s refused: %s is %s", host, address, reason)
            if host == str(address):
                raise TargetRefused(f"{address} is {reason}")
            raise TargetRefused(f"{host} resolves to {address}, {reason}")
    return addresses


def refusal(address: IPAddress) -> str | None:
    """Why ``address`` may not be called ("a loopback address"), or None for a global one."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4-mapped or NAT64 address is how this host reaches an IPv4 one: that one
        # decides. A 6to4 address must pass as itself too.
        carried = address.ipv4_mapped
        if carried is None and address in _NAT64:
            carried = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if carried is not None:
            reason = refusal(carried)
            return f"which carries {carried}, {reason}" if reason else None
        if address.sixtofour is not None and (reason := refusal(address.sixtofour)):
            return f"which carries {address.sixtofour}, {reason}"
    if address in _METADATA:
        return f"the address of {_METADATA[address]}"
    for flag, reason in (
        (address.is_unspecified, "an unspecified address"),
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),
        (address.is_multicast, "a multicast address"),
        (address.is_private, "a private address"),
        (address.is_reserved, "a reserved address"),
        (not address.is_global, "an address that is not globally reachable"),
    ):
        if flag:
            return reason
    return None
