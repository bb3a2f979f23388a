"""Which addresses a webhook may reach: public ones, unless its endpoint opts in.

Loopback, private, link-local (cloud metadata at 169.254.169.254), shared, reserved,
multicast and unspecified addresses are refused, also when written in another form
(``0x7f000001``, ``127.1``, ``[::ffff:127.0.0.1]``): a webhook URL must not become a way
to reach the machine's own services or its network.
"""

from __future__ import annotations

import ipaddress
import socket

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# IPv6 prefixes that carry an IPv4 address in their last 32 bits (NAT64).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public(address: Address) -> bool:
    """True for a globally reachable unicast address (IPv4 inside IPv6 judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not address.is_multicast


def literal_address(host: str) -> Address | None:
    """The address ``host`` names without DNS, in any form the system resolver reads
    numerically (``127.0.0.1``, ``::1``, ``2130706433``, ``0x7f000001``, ``127.1``)."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        pass
    try:
        # inet_aton is what getaddrinfo() uses for IPv4 text: hex, octal, short forms.
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, UnicodeError, ValueError):
        return None


def is_local_name(host: str) -> bool:
    """``localhost`` and names under it (RFC 6761), which resolve to loopback."""
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")


def static_problem(host: str) -> str | None:
    """Why ``host`` is refused before any DNS look-up (a literal non-public address or a
    loopback name), or ``None``; names are resolved and checked again at send time."""
    if is_local_name(host):
        return f"{host!r} is the local machine"
    address = literal_address(host)
    if address is not None and not is_public(address):
        return f"{host!r} is not a public address ({address})"
    return None
