"""One HTTP request to a webhook target, connected to an address that was checked.

The host is resolved and every address checked (``targets.resolve_checked``) right before connecting, and the
socket is opened to one of exactly those addresses; the ``Host`` header and, for https, SNI and certificate
verification keep the URL's host name. So the address judged is the address used: a DNS answer that changes
in between (rebinding) cannot redirect the request. Redirects are never followed (a 3xx is an answer).

Error texts name what went wrong (timed out, refused, TLS) but never the URL, which may hold a secret.
"""
from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from trackside.shared.webhooks.targets import TargetRefused, resolve_checked, split_target

MAX_RESPONSE_BYTES = 65536
TOTAL_TIMEOUT_FACTOR = 2
USER_AGENT = "Trackside-Webhooks/1"


class SendError(Exception):
    """The request got no HTTP answer (refused target, connection, TLS or timeout); ``retryable`` says
    whether trying later may help."""

    def __init__(self, message: str, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    duration_ms: float


def send(method: str, url: str, headers: dict[str, str], body: bytes | None, *, timeout: float,
         allow_private: bool) -> Answer:
    """One request; ``timeout`` bounds each network wait, and the whole request ends within
    ``TOTAL_TIMEOUT_FACTOR * timeout`` (a receiver dripping its answer cannot hold a worker longer than the
    per-delivery lock lasts)."""
    started = time.monotonic()
    try:
        host, port = split_target(url)
        addresses = resolve_checked(host, port, allow_private=allow_private)
    except TargetRefused as exc:
        raise SendError(f"target refused: {exc}", retryable=False) from None
    parts = urlsplit(url.strip())
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = {"User-Agent": USER_AGENT, **headers}
    deadline = started + TOTAL_TIMEOUT_FACTOR * timeout
    last_error: SendError | None = None
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        connection = _connection(parts.scheme.lower(), host, port, str(address), min(timeout, remaining))
        expired = threading.Event()
        timer = threading.Timer(remaining, _abort, (connection, expired))
        timer.daemon = True
        timer.start()
        try:
            connection.request(method.upper(), path, body=body, headers=headers)
            response = connection.getresponse()
            if expired.is_set():  # the headers were cut short: http.client takes what came as complete
                raise OSError("cut off")
            response.read(MAX_RESPONSE_BYTES)  # drained (bounded) so the receiver sees a clean close
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()},
                          round((time.monotonic() - started) * 1000, 1))
        except _Connect as exc:
            last_error = SendError(str(exc), retryable=True)
            continue  # the next address of the host
        except (http.client.HTTPException, OSError) as exc:
            if expired.is_set():
                raise SendError(f"no complete answer within {TOTAL_TIMEOUT_FACTOR * timeout:g} s",
                                retryable=True) from None
            raise _error(exc, timeout) from None
        finally:
            timer.cancel()
            connection.close()
    raise last_error or SendError(f"no answer within {TOTAL_TIMEOUT_FACTOR * timeout:g} s", retryable=True)


def _error(exc: BaseException, timeout: float) -> SendError:
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return SendError(f"timed out after {timeout:g} s", retryable=True)
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SendError(f"TLS certificate not accepted: {exc.verify_message}", retryable=True)
    if isinstance(exc, ssl.SSLError):
        return SendError(f"TLS error: {exc.reason or exc.__class__.__name__}", retryable=True)
    return SendError(f"connection error: {_describe(exc)}", retryable=True)


def _abort(connection: http.client.HTTPConnection, expired: threading.Event) -> None:
    """Past the request's whole time: cut its socket, which ends any wait on it."""
    expired.set()
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class _Connect(Exception):
    """Connecting to one address failed: try the host's next one."""


def _connection(scheme: str, host: str, port: int, address: str, timeout: float) -> http.client.HTTPConnection:
    if scheme == "https":
        return _PinnedHTTPS(host, port, address, timeout)
    return _PinnedHTTP(host, port, address, timeout)


def _open(address: str, port: int, timeout: float) -> socket.socket:
    try:
        return socket.create_connection((address, port), timeout=timeout)
    except (socket.timeout, TimeoutError):
        raise _Connect(f"connecting timed out after {timeout:g} s") from None
    except OSError as exc:
        raise _Connect(f"cannot connect: {_describe(exc)}") from None


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = _open(self._address, self.port, self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = _open(self._address, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _describe(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or exc.__class__.__name__

