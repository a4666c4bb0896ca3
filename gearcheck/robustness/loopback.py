"""Destructive tools (fuzz, mutants) only ever target this machine.

Strategy: resolve the host without touching the network for literal addresses
(``ipaddress``), accept ``localhost`` by name, and refuse everything else with
an error that names the address. Only the loopback ranges count (127.0.0.0/8,
::1); a LAN address of this very host is still refused, on purpose.
"""

from __future__ import annotations

import ipaddress

from ..wire import Address


class NotLoopbackError(ValueError):
    """The address is not a loopback address."""


def require_loopback(address: Address | str, *, tool: str = "gearcheck") -> Address:
    addr = Address.parse(address) if isinstance(address, str) else address
    host = addr.host.strip("[]")
    if host.lower() == "localhost":
        return addr
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise NotLoopbackError(
            f"{tool}: refusing {addr}: only loopback addresses (127.0.0.0/8, ::1, localhost) "
            f"may be targeted, and {host!r} is a host name, not a loopback address") from None
    if not ip.is_loopback:
        raise NotLoopbackError(
            f"{tool}: refusing {addr}: {ip} is not a loopback address; this tool sends hostile "
            f"input and only targets 127.0.0.0/8 or ::1")
    return addr
