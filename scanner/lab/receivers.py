"""Lab receivers of Bolwerk's notifications: a webhook endpoint (HTTP) and, with scanner/lab/smtp.py's
relay, an SMTP relay; run on loopback by `Receivers`, each keeping what it was sent.

The webhook answers every request with `status` (204 by default) after `delay` seconds, so
the tests see a refusal and a receiver that never answers in time as well as a success.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from dataclasses import dataclass
from typing import Any

from scanner.lab.listener import Listener
from scanner.lab.smtp import SmtpServer

MAX_HEAD = 16 * 1024
MAX_BODY = 4 << 20
READ_TIMEOUT = 10.0


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver(Listener):
    def __init__(self, ip: str = "127.0.0.1", status: int = 204, delay: float = 0.0) -> None:
        super().__init__(ip, self._client)
        self.status, self.delay = status, delay
        self.requests: list[Request] = []

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
        if len(head) > MAX_HEAD:
            return
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, path, _ = request_line.split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines if line)}
        length = min(int(headers.get("content-length", "0")), MAX_BODY)
        body = await asyncio.wait_for(reader.readexactly(length), READ_TIMEOUT) if length else b""
        self.requests.append(Request(method, path, headers, body))
        await asyncio.sleep(self.delay)
        writer.write(f"HTTP/1.1 {self.status} Lab\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()


class Receivers:
    """Run receivers on loopback in a thread with its own event loop: `with Receivers(hook, relay):`."""

    def __init__(self, *listeners: Listener) -> None:
        self.listeners = listeners
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="bolwerk-receivers", daemon=True)

    def __enter__(self) -> Receivers:
        self._thread.start()
        for listener in self.listeners:
            asyncio.run_coroutine_threadsafe(listener.start(), self._loop).result(10)
        return self

    def __exit__(self, *exc: object) -> None:
        for listener in self.listeners:
            asyncio.run_coroutine_threadsafe(listener.stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def smtp_relay(users: dict[str, str] | None = None, tls: ssl.SSLContext | None = None) -> SmtpServer:
    """An SMTP relay on 127.0.0.1 that keeps the messages it accepts (log in as one of `users`, if given)."""
    return SmtpServer("127.0.0.1", "relay.lab.test", tls, relay=True, users=users)
