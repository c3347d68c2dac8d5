"""The SSRF guard: which addresses fedlogin connects to (under :class:`.outbound.Outbound`).

A host name is resolved and every address it resolves to must be a public unicast address;
private, loopback, link-local, reserved, multicast and unspecified addresses are refused
unless the operator allow-listed the host (loopback also through the development loopback
setting). Cloud metadata addresses are refused always: no identity provider lives there.

DNS rebinding (a name that resolves to a public address for the check and to an internal one
for the connection) is closed by :class:`fedlogin.oidc.transport.PinnedTransport`: it opens
connections to an address of the checked answer (asking :meth:`AddressGuard.addresses`),
never to a second lookup. A checked answer is used for :data:`RESOLVE_TTL` seconds; the TLS
certificate is still verified against the host name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Callable, Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: How long a checked DNS answer is used for new connections.
RESOLVE_TTL = 30.0

#: Cloud instance metadata services (AWS, GCP and Azure share 169.254.169.254; AWS IPv6;
#: AWS ECS task metadata; Alibaba Cloud). Never reachable, whatever is allow-listed.
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA = "a cloud metadata address"
_LOOPBACK = "a loopback address"
_NEVER_ALLOWED = frozenset({_METADATA, "an unspecified address", "a multicast address"})


async def resolve_host(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to. Tests replace this function."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for family, _, _, _, sockaddr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            address = ipaddress.ip_address(sockaddr[0])
            if address not in addresses:
                addresses.append(address)
    return addresses


def blocked_reason(address: IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address, or ``None`` when it is."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return blocked_reason(embedded)
    if address in METADATA_ADDRESSES:
        return _METADATA
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_loopback:
        return _LOOPBACK
    if address.is_link_local:
        return "a link-local address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


class AddressRefused(Exception):
    """``dns`` or ``address_blocked``; raised below httpx, so the caller adds the flow step."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class AddressGuard:
    """Resolves host names and keeps only answers whose every address may be reached."""

    def __init__(
        self,
        *,
        allowed_hosts: Iterable[str] = (),
        allow_loopback: bool = False,
        resolve_timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.allowed_hosts = frozenset(allowed_hosts)
        self.allow_loopback = allow_loopback
        self._resolve_timeout = resolve_timeout
        self._clock = clock
        self._checked: dict[tuple[str, int], tuple[float, tuple[IPAddress, ...]]] = {}

    async def addresses(self, host: str, port: int) -> tuple[IPAddress, ...]:
        """The checked addresses of ``host``; raises :class:`AddressRefused` (``dns``,
        ``address_blocked``)."""
        host = host.lower()
        now = self._clock()
        cached = self._checked.get((host, port))
        if cached is not None and cached[0] > now:
            return cached[1]
        addresses = tuple(await self._resolve(host, port))
        for address in addresses:
            self._check(host, address)
        self._checked = {k: v for k, v in self._checked.items() if v[0] > now}
        self._checked[(host, port)] = (now + RESOLVE_TTL, addresses)
        return addresses

    async def _resolve(self, host: str, port: int) -> list[IPAddress]:
        try:
            return [ipaddress.ip_address(host)]
        except ValueError:
            pass
        try:
            async with asyncio.timeout(self._resolve_timeout):
                addresses = await resolve_host(host, port)
        except TimeoutError:
            raise AddressRefused("dns", f"Resolving the name {host} timed out.") from None
        except (OSError, UnicodeError) as exc:
            raise AddressRefused("dns", f"The name {host} could not be resolved.") from exc
        if not addresses:
            raise AddressRefused("dns", f"The name {host} has no address.")
        return addresses

    def _check(self, host: str, address: IPAddress) -> None:
        reason = blocked_reason(address)
        if reason is None:
            return
        always = reason in _NEVER_ALLOWED
        allowed = host in self.allowed_hosts or (reason == _LOOPBACK and self.allow_loopback)
        if always or not allowed:
            where = f"{host} is" if host == str(address) else f"{host} resolves to {address},"
            remedy = "never" if always else "not, unless the operator allows that host"
            raise AddressRefused(
                "address_blocked", f"{where} {reason}: fedlogin connects there {remedy}."
            )
