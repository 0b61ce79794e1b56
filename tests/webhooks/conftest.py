"""Fixtures for webhook tests: real receivers (HTTP and HTTPS), delivery clients, fake DNS.

``receiver`` is a running ``tests.webhooks.receiver.Receiver`` holding one fresh endpoint secret
(``receiver.secrets[0]``), with an empty record and script. One server is shared by the whole
session (starting uvicorn per test would cost more than the tests), so it is reset for each test.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, cast

import httpx
import pytest
import trustme

from engine import events
from engine.settings import reset_settings
from runtime import composition
from runtime.background import start_background
from runtime.queue import InProcessJobQueue
from tests.webhooks.receiver import Receiver
from tests.webhooks.scenario import InProcessBackground, RecordingQueue
from webhooks import ssrf
from webhooks.client import make_client
from webhooks.signing import generate_secret
from webhooks.ssrf import IPNetwork, parse_networks

# The receiver listens on 127.0.0.1, which the SSRF guard refuses unless allow-listed.
LOOPBACK: tuple[IPNetwork, ...] = parse_networks("127.0.0.0/8")
# Names the HTTPS receiver's certificate is valid for (point them at 127.0.0.1 with ``fake_dns``).
TLS_NAMES = ("hooks.brand.test", "a.brand.test", "b.brand.test", "c.brand.test")


@pytest.fixture(scope="session")
def receiver_server() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.fixture
def receiver(receiver_server: Receiver) -> Receiver:
    receiver_server.reset(secrets=[generate_secret()])
    return receiver_server


@pytest.fixture
async def webhook_client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as client:
        yield client


@pytest.fixture
async def fake_dns(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, list[str]]]:
    """Answer getaddrinfo from a table (unknown names fail) so no test depends on real DNS."""
    table: dict[str, list[str]] = {}
    loop = asyncio.get_running_loop()

    async def getaddrinfo(host: str, port: int, **_: Any) -> list[tuple[Any, ...]]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        family = {True: socket.AF_INET6, False: socket.AF_INET}
        return [(family[":" in ip], socket.SOCK_STREAM, 6, "", (ip, port)) for ip in table[host]]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    ssrf.forget_lookups()  # answers remembered from real DNS, or from another test's table
    yield table
    ssrf.forget_lookups()


# -- HTTPS: a private CA, a receiver with a certificate from it, a client trusting it ---------


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def tls_receiver_server(tls_ca: trustme.CA) -> Iterator[Receiver]:
    cert = tls_ca.issue_cert(*TLS_NAMES)
    with (
        cert.private_key_and_cert_chain_pem.tempfile() as pem,
        Receiver(certfile=pem) as server,
    ):
        yield server


@pytest.fixture
def tls_receiver(tls_receiver_server: Receiver) -> Receiver:
    """Like ``receiver`` over HTTPS; reach it as ``tls_receiver.url(host=<one of TLS_NAMES>)``."""
    tls_receiver_server.reset(secrets=[generate_secret()])
    return tls_receiver_server


@pytest.fixture
async def tls_client(tls_ca: trustme.CA) -> AsyncIterator[httpx.AsyncClient]:
    context = ssl.create_default_context()
    tls_ca.configure_trust(context)
    async with make_client(ssl_context=context) as client:
        yield client


# -- delivery through the database: settings for a test, in-process background work ------------


@pytest.fixture
def webhook_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """COSOURCE_* settings for one test: loopback allowed, schedule compressed 1000x.

    Call the fixture's value to change more (``webhook_settings(webhook_timeout_seconds=1)``).
    """

    def apply(**values: object) -> None:
        for name, value in values.items():
            monkeypatch.setenv(f"COSOURCE_{name.upper()}", str(value))
        reset_settings()

    apply(webhook_allow_networks="127.0.0.0/8,::1/128", webhook_schedule_scale=0.001)
    yield apply
    monkeypatch.undo()
    reset_settings()


@pytest.fixture
async def background(
    database: str, webhook_settings: Callable[..., None]
) -> AsyncIterator[InProcessBackground]:
    """In-process jobs and event hooks, as the embedded default runs them (no Redis)."""
    started = await start_background()
    assert isinstance(started.queue, InProcessJobQueue)
    try:
        yield cast(InProcessBackground, started)
    finally:
        await started.close()
        events.install_hooks()


@pytest.fixture
def outbox(database: str, webhook_settings: Callable[..., None]) -> Iterator[RecordingQueue]:
    """Event hooks that write delivery rows but run no job: the test drives delivery itself."""
    queue = RecordingQueue()
    composition.install_process_hooks(queue)
    yield queue
    events.install_hooks()
