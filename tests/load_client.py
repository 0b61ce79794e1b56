"""A lean HTTP/1.1 client for the load tests: one keep-alive connection, one request at a time.

The load tests run their members in the pytest process, on the same two cores as the servers they
measure. httpx spent more CPU per request there than the API process answering it (about 10 ms
against 8), so the latencies it printed were largely the load generator's own queueing. This
client does only what those tests need: POST a JSON body, read a Content-Length (or chunked)
answer, reconnect when the server closed the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import orjson


class TransportError(Exception):
    """The connection failed or the server answered something that is not HTTP/1.1."""


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: dict[str, str]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return orjson.loads(self.content)


class KeepAliveClient:
    """One member's browser: a single connection to ``base`` ("host:port"), reused."""

    def __init__(self, base: str, *, timeout: float = 60.0) -> None:
        self.host, _, port = base.rpartition(":")
        self.port = int(port)
        self.timeout = timeout
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post_json(self, path: str, payload: Any, headers: dict[str, str]) -> Answer:
        body = orjson.dumps(payload)
        head = [
            f"POST {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body
        for attempt in (1, 2):
            fresh = self._streams is None
            try:
                return await asyncio.wait_for(self._exchange(request), self.timeout)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as error:
                await self.aclose()
                if fresh or attempt == 2:  # a kept-alive connection may have been closed: once more
                    raise TransportError(repr(error)) from error
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange(self, request: bytes) -> Answer:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        writer.write(request)
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        version, _, rest = head[0].partition(" ")
        if not version.startswith("HTTP/1."):
            raise TransportError(f"not an HTTP/1.1 answer: {head[0]!r}")
        headers: dict[str, str] = {}
        for line in head[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                chunks.append(await reader.readexactly(size))
                await reader.readexactly(2)
            await reader.readuntil(b"\r\n")
            content = b"".join(chunks)
        else:
            content = await reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            await self.aclose()
        return Answer(int(rest.split(" ", 1)[0]), headers, content)

    async def aclose(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
