"""Local webhook receivers on 127.0.0.1 for the webhook tests: scripted answers, and
receivers that trickle, hang, redirect, talk garbage or drop connections unanswered."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

# An answer is a status code, or a function writing the answer itself.
Answer = int | Callable[[BaseHTTPRequestHandler, "Receiver"], None]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a sender hanging up mid-answer is what several tests do on purpose


class Receiver:
    """An HTTP server on 127.0.0.1 recording every request; the n-th request gets the
    n-th answer (the last one repeats)."""

    def __init__(self, answers: tuple[Answer, ...] = (200,), *, tls: Path | None = None) -> None:
        self.requests: list[dict] = []
        self.answers = list(answers)
        self.closing = threading.Event()
        self.arrived = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _record(self) -> Answer:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                owner.requests.append(
                    {"method": self.command, "headers": dict(self.headers), "body": body}
                )
                owner.arrived.set()
                return owner.answers[min(len(owner.requests), len(owner.answers)) - 1]

            def do_POST(self):
                answer = self._record()
                if callable(answer):
                    answer(self, owner)
                    self.close_connection = True
                    return
                self.send_response(answer)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.port = self.server.server_port
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.closing.set()  # ends hanging and trickling answers
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def redirect_to(url: str, status: int = 302) -> Answer:
    def answer(handler: BaseHTTPRequestHandler, owner: Receiver) -> None:
        handler.send_response(status)
        handler.send_header("Location", url)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def trickle(interval: float, padding: int = 60) -> Answer:
    """A 200 whose status line and headers come one byte every ``interval`` seconds."""
    data = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * padding + b"\r\nContent-Length: 0\r\n\r\n"

    def answer(handler: BaseHTTPRequestHandler, owner: Receiver) -> None:
        for byte in data:
            if owner.closing.wait(interval):
                return
            try:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            except OSError:
                return  # the sender gave up

    return answer


def hang(handler: BaseHTTPRequestHandler, owner: Receiver) -> None:
    """Read the request, never answer (until the receiver closes)."""
    owner.closing.wait(120)


def garbage(handler: BaseHTTPRequestHandler, owner: Receiver) -> None:
    """Not HTTP: another service's banner, then the connection closes."""
    handler.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n")
    handler.wfile.flush()


def disconnect(handler: BaseHTTPRequestHandler, owner: Receiver) -> None:
    """Close the connection without a word."""
    handler.connection.shutdown(socket.SHUT_RDWR)


def self_signed(directory: Path) -> Path:
    """A certificate and its key (one PEM file) for 127.0.0.1, made by openssl."""
    if shutil.which("openssl") is None:
        import pytest

        pytest.skip("openssl is not installed")
    pem = directory / "receiver.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(pem), "-out", str(directory / "cert.pem")),
        ],
        check=True,
        capture_output=True,
    )
    pem.write_text(pem.read_text() + (directory / "cert.pem").read_text())
    return pem


class SilentPort:
    """A port that accepts connections and never says a word (nor reads one)."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]

    def close(self) -> None:
        self.listener.close()


def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class FilteredPort:
    """A port whose connection attempts get no answer, as behind a firewall dropping
    packets: a listener whose accept queue is full, so the kernel ignores new SYNs."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.fillers: list[socket.socket] = []
        for _ in range(8):  # listen(0) admits one or two; the rest fill the SYN queue
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", self.port))
            self.fillers.append(filler)
        time.sleep(0.2)

    def close(self) -> None:
        for one in [*self.fillers, self.listener]:
            one.close()


def receivers():
    """The body of a ``receiver`` fixture: ``receiver(*answers)`` starts a
    :class:`Receiver`; all are closed afterwards."""
    servers: list[Receiver] = []

    def _start(*answers: Answer, tls: Path | None = None) -> Receiver:
        server = Receiver(answers or (200,), tls=tls)
        servers.append(server)
        return server

    yield _start
    for server in servers:
        server.close()
