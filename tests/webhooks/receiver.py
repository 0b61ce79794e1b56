"""A real HTTP webhook receiver for tests: uvicorn on a free 127.0.0.1 port in a background thread.

It checks every request the way a brand's receiver would (the ``standardwebhooks`` library, with
the endpoint's secret or secrets), records it, and answers from a script::

    with Receiver(secrets=[secret]) as rx:          # or the ``receiver`` fixture in conftest.py
        rx.program(500, Reply(429, headers={"retry-after": "7"}), then=200)
        ... deliver to rx.url("/hook") ...
        first, second, third = rx.wait_for(3, timeout=5)   # async tests: await rx.wait_for_async
        assert third.verified

With ``certfile`` (a PEM holding key and chain, e.g. from ``trustme``) it serves HTTPS.
Replies: an int status, or a ``Reply`` (status, body, headers, ``delay`` before answering, which
is how tests provoke timeouts). Once the script runs out every request gets ``then``.
Any path and method is accepted and recorded, so a test can show a redirect target was never hit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

ASGIScope = dict[str, Any]
ASGIMessage = dict[str, Any]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Reply:
        return cls(status, b"moved", {"location": location})

    @classmethod
    def slow(cls, delay: float, status: int = 200) -> Reply:
        return cls(status, delay=delay)


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    verified: bool  # the signature checked out against one of the receiver's secrets
    verify_error: str | None
    client: tuple[str, int]  # the sender's address and port: one port for many requests = reuse
    received_at: float  # time.time() on arrival, before any scripted delay
    monotonic: float

    def json(self) -> Any:
        return json.loads(self.body)


def _as_reply(reply: int | Reply) -> Reply:
    return reply if isinstance(reply, Reply) else Reply(reply)


class Receiver:
    def __init__(self, secrets: Sequence[str] = (), *, certfile: str | None = None) -> None:
        self._certfile = certfile
        self._lock = threading.Condition()
        self._secrets: tuple[str, ...] = tuple(secrets)
        self._script: deque[Reply] = deque()
        self._then = Reply()
        self._requests: list[ReceivedRequest] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        # Each reset starts a new path prefix: deliveries left over from an earlier test sharing
        # this server (retries in the same database) land under an old prefix and are turned away.
        self._prefix = ""
        self.strays = 0
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Receiver:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))  # bound here, so the port is known and nobody can take it
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            interface="asgi3",
            proxy_headers=False,
            lifespan="off",
            ws="none",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
            ssl_certfile=self._certfile,
            ssl_keyfile=self._certfile,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="webhook-rx", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the webhook receiver did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is None or self._thread is None:
            return
        self._server.should_exit = True
        if self._loop is not None and self._stopping is not None:
            # Cut scripted delays short so shutdown does not wait for them.
            self._loop.call_soon_threadsafe(self._stopping.set)
        self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- programming -------------------------------------------------------------------------

    def url(self, path: str = "/hook", *, host: str = "127.0.0.1") -> str:
        """Where to deliver; ``host`` may be any name that resolves to 127.0.0.1."""
        scheme = "https" if self._certfile else "http"
        return f"{scheme}://{host}:{self.port}{self._prefix}{path}"

    @property
    def secrets(self) -> tuple[str, ...]:
        return self._secrets

    def set_secrets(self, *secrets: str) -> None:
        with self._lock:
            self._secrets = secrets

    def program(self, *replies: int | Reply, then: int | Reply = 200) -> None:
        """Answer the next requests with ``replies`` in order, then ``then`` forever."""
        with self._lock:
            self._script = deque(_as_reply(r) for r in replies)
            self._then = _as_reply(then)

    def reset(self, secrets: Iterable[str] = ()) -> None:
        """Forget recorded requests and the script (between tests sharing one server)."""
        with self._lock:
            self._requests.clear()
            self._script.clear()
            self._then = Reply()
            self._secrets = tuple(secrets)
            self._prefix = f"/t{uuid.uuid4().hex[:12]}"

    # -- reading what arrived ----------------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedRequest]:
        """Block until ``count`` requests arrived (sync tests; blocks the calling event loop)."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= count, timeout):
                raise TimeoutError(f"expected {count} requests, got {len(self._requests)}")
            return list(self._requests)

    async def wait_for_async(
        self,
        count: int,
        timeout: float = 5.0,  # noqa: ASYNC109 - mirrors wait_for
    ) -> list[ReceivedRequest]:
        """Like ``wait_for`` without blocking the test's event loop."""
        deadline = time.monotonic() + timeout
        while len(seen := self.requests) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"expected {count} requests, got {len(seen)}")
            await asyncio.sleep(0.005)
        return seen

    # -- the ASGI app (runs on the server thread) --------------------------------------------

    def _verify(self, body: bytes, headers: dict[str, str]) -> str | None:
        if not self._secrets:
            return "receiver has no secret"
        error = "no secret matched"
        for secret in self._secrets:
            try:
                Webhook(secret).verify(body, headers, json_parse=False)
            except (WebhookVerificationError, ValueError) as exc:
                error = str(exc) or type(exc).__name__
            else:
                return None
        return error

    async def _app(self, scope: ASGIScope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if self._stopping is None:
            self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        body = b""
        while True:
            message: ASGIMessage = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        peer = scope.get("client") or ("", 0)
        if not scope["path"].startswith(self._prefix):
            # Not for the current test: 410 makes that old endpoint disable itself.
            with self._lock:
                self.strays += 1
            await send(
                {
                    "type": "http.response.start",
                    "status": 410,
                    "headers": [(b"content-length", b"0")],
                }
            )
            await send({"type": "http.response.body", "body": b""})
            return
        with self._lock:
            verify_error = self._verify(body, headers)
            reply = self._script.popleft() if self._script else self._then
            self._requests.append(
                ReceivedRequest(
                    method=scope["method"],
                    path=scope["path"][len(self._prefix) :] or "/",
                    headers=headers,
                    body=body,
                    verified=verify_error is None,
                    verify_error=verify_error,
                    client=(str(peer[0]), int(peer[1])),
                    received_at=time.time(),
                    monotonic=time.monotonic(),
                )
            )
            self._lock.notify_all()
        if reply.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), reply.delay)
        response_headers = [(k.encode(), v.encode()) for k, v in reply.headers.items()]
        response_headers.append((b"content-length", str(len(reply.body)).encode()))
        await send(
            {"type": "http.response.start", "status": reply.status, "headers": response_headers}
        )
        await send({"type": "http.response.body", "body": reply.body})
