"""One POST with a total deadline, to a resolved and checked address, never redirected.

The host is resolved once; every address it resolves to must be public (unless the
endpoint allows private ones), and the connection goes to one of those very addresses,
so a second DNS answer cannot swap in another one (DNS rebinding). The deadline bounds
the whole attempt: look-up, connect, TLS handshake, sending and each read of the answer,
so a receiver answering one byte at a time cannot hold a worker. Only the status line
and headers are read; a 3xx is returned as it is (redirects are never followed).
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from onboarding.webhooks.addresses import Address, is_public, literal_address


class ConnectFailed(Exception):
    """No answer: look-up, connection, TLS, timeout or a broken reply. Deliberately
    one kind, so that the log does not tell open, closed and filtered ports apart."""


class AddressRefused(Exception):
    """The host is, or resolves to, an address the endpoint may not reach."""


@dataclass(frozen=True)
class Target:
    """Where to connect: the socket address checked, and the name for Host and TLS."""

    family: int
    sockaddr: tuple[Any, ...]
    host: str
    port: int


class _Bounded:
    """A socket whose every blocking call waits at most until ``deadline``."""

    deadline: float = float("inf")

    def _bound(self) -> None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the delivery's deadline passed")
        self.settimeout(left)  # type: ignore[attr-defined]

    def recv(self, *args: Any, **kwargs: Any) -> Any:
        self._bound()
        return super().recv(*args, **kwargs)  # type: ignore[misc]

    def recv_into(self, *args: Any, **kwargs: Any) -> Any:
        self._bound()
        return super().recv_into(*args, **kwargs)  # type: ignore[misc]

    def send(self, *args: Any, **kwargs: Any) -> Any:
        self._bound()
        return super().send(*args, **kwargs)  # type: ignore[misc]

    def sendall(self, *args: Any, **kwargs: Any) -> Any:
        self._bound()  # a plain socket's sendall() counts its timeout for the whole call
        return super().sendall(*args, **kwargs)  # type: ignore[misc]


class _Socket(_Bounded, socket.socket):
    pass


class _TLSSocket(_Bounded, ssl.SSLSocket):
    def do_handshake(self, *args: Any, **kwargs: Any) -> Any:
        self._bound()  # the handshake counts its timeout for the whole exchange
        return super().do_handshake(*args, **kwargs)


class _TLSContext(ssl.SSLContext):
    sslsocket_class = _TLSSocket


def _tls_context() -> ssl.SSLContext:
    context = _TLSContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names
    context.load_default_certs()
    return context


def _connect(target: Target, deadline: float) -> _Socket:
    sock = _Socket(target.family, socket.SOCK_STREAM)
    sock.deadline = deadline
    try:
        sock._bound()
        sock.connect(target.sockaddr)
    except BaseException:
        sock.close()
        raise
    return sock


class _Connection(http.client.HTTPConnection):
    def __init__(self, target: Target, deadline: float) -> None:
        super().__init__(target.host, target.port)
        self._target, self._deadline = target, deadline

    def connect(self) -> None:
        self.sock = _connect(self._target, self._deadline)


class _TLSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, deadline: float) -> None:
        super().__init__(target.host, target.port, context=_tls_context())
        self._target, self._deadline = target, deadline

    def connect(self) -> None:
        raw = _connect(self._target, self._deadline)
        tls = self._context.wrap_socket(  # type: ignore[attr-defined]
            raw, server_hostname=self.host, do_handshake_on_connect=False
        )
        tls.deadline = self._deadline
        self.sock = tls
        tls.do_handshake()


def resolve(host: str, port: int, deadline: float) -> list[Target]:
    """Every address of ``host``, looked up once within the deadline."""
    found: list[Any] = []
    failed: list[BaseException] = []

    def look_up() -> None:
        try:
            found.extend(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except (OSError, UnicodeError) as error:
            failed.append(error)

    # getaddrinfo() has no timeout of its own: wait for it in a thread, at most until
    # the deadline (a thread still blocked then ends with the resolver's own timeout).
    thread = threading.Thread(target=look_up, name="webhook-dns", daemon=True)
    thread.start()
    thread.join(max(deadline - time.monotonic(), 0))
    if thread.is_alive() or failed or not found:
        raise ConnectFailed(f"{host}: no address")
    return [
        Target(family=family, sockaddr=sockaddr, host=host, port=port)
        for family, _type, _proto, _name, sockaddr in found
        if family in (socket.AF_INET, socket.AF_INET6)
    ]


def _address(target: Target) -> Address | None:
    return literal_address(str(target.sockaddr[0]))


def post(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout: float,
    allow_private: bool = False,
) -> int:
    """POST ``body`` to ``url`` within ``timeout`` seconds in all; returns the status.

    Raises :class:`AddressRefused` before connecting anywhere, or :class:`ConnectFailed`.
    """
    deadline = time.monotonic() + timeout
    try:
        parts = urlsplit(url)
        host, secure = parts.hostname or "", parts.scheme == "https"
        port = parts.port or (443 if secure else 80)
    except ValueError as bad_url:
        raise ConnectFailed(f"{url!r}: not a URL") from bad_url
    targets = resolve(host, port, deadline)
    if not allow_private:
        # Every address, not only the first: one private answer among public ones is
        # enough for a resolver under someone else's control to aim at this network.
        refused = [target for target in targets if not _public(target)]
        if refused:
            address = refused[0].sockaddr[0]
            named = host if literal_address(host) else f"{host} ({address})"
            raise AddressRefused(f"{named} is not a public address")
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    last_failure: BaseException | None = None
    for target in targets:
        connection = (_TLSConnection if secure else _Connection)(target, deadline)
        try:
            try:
                connection.connect()
            except OSError as failed:
                # Nothing was sent: the host's next address may answer.
                last_failure = failed
                continue
            connection.request("POST", path, body=body, headers=dict(headers))
            return connection.getresponse().status
        except (OSError, http.client.HTTPException, ValueError) as failed:
            last_failure = failed  # sent, or partly: not sent again to another address
            break
        finally:
            connection.close()
    raise ConnectFailed(f"{host}: {type(last_failure).__name__}: {last_failure}") from last_failure


def _public(target: Target) -> bool:
    address = _address(target)
    return address is not None and is_public(address)
