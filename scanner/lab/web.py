"""Lab web servers: a small HTTP/1.1 responder behind plain TCP or TLS, one per lab host and port.

Each host answers from its `Site`: the headers, body, redirects and security.txt the
estate data gives it. The server reads a bounded request head, answers once and closes.

A header value given as a list is sent as that many header lines (to imitate duplicated
headers). `routes` answer given paths with their own status, headers and body (estate:
`https_routes` / `http_routes` on a web entry), e.g. a redirect chain, a downgrade, a page
with scripts, a reflected CORS Origin, a gzip-compressed body or one repeated `repeat` times;
`delay = S` answers after S seconds (a slow server that still answers).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field

from scanner.lab.listener import Handler, Listener

MAX_HEAD = 16 * 1024
HEAD_TIMEOUT = 10.0
PAGE_TYPE = "text/html; charset=utf-8"  # of a page that names no type
NOT_FOUND = ("text/plain; charset=utf-8", "not found\n")  # the type and body of a 404
# Named connection handlers for lab hosts that must misbehave or speak raw protocols
# (`https_handler = "name"` / `http_handler = "name"` in the estate). A factory gets the
# host's estate entry and its Site and returns the handler.
HANDLERS: dict[str, Callable[[dict, Site], Handler]] = {}


def handler(name: str):
    """Register a lab connection-handler factory under `name`."""

    def wrap(factory):
        HANDLERS[name] = factory
        return factory

    return wrap


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    delay: float = 0.0  # seconds before answering


REASONS = {200: "OK", 301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect",
           308: "Permanent Redirect", 404: "Not Found", 400: "Bad Request"}


def header_lines(headers) -> list[tuple[str, str]]:
    """(name, value) pairs from a table or pairs; a list value becomes repeated lines."""
    items = headers.items() if isinstance(headers, dict) else headers
    out = []
    for name, value in items:
        for one in value if isinstance(value, list) else [value]:
            out.append((name, str(one)))
    return out


@dataclass
class Site:
    """What one lab host serves on one scheme."""

    host: str
    scheme: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b"<!doctype html><title>Bolwerk lab</title><p>Vlaanderen lab service</p>"
    redirect_to: str | None = None  # e.g. "https://host" for an http->https redirect
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # path -> (content type, body)
    routes: dict[str, dict] = field(default_factory=dict)  # path -> {status, location, headers, body, ...}

    def __post_init__(self) -> None:
        self.headers = header_lines(self.headers)

    def _route(self, spec: dict, request_headers: dict[str, str]) -> Response:
        status = int(spec.get("status", 200))
        headers = [] if spec.get("bare") else list(self.headers)
        if "location" in spec:
            headers.insert(0, ("Location", spec["location"]))
        body = spec.get("body", "")
        if spec.get("template"):  # dates relative to now, for security.txt cases that must not age
            now = dt.datetime.now(dt.UTC).replace(microsecond=0)
            for name, days in (("{expires}", 180), ("{expired}", -30), ("{far}", 800)):
                body = body.replace(name, (now + dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ"))
        body = (body * int(spec.get("repeat", 1))).encode()  # e.g. a policy file over a size cap
        if status == 200 and not any(n.lower() == "content-type" for n, _ in headers):
            headers.insert(0, ("Content-Type", spec.get("content_type", PAGE_TYPE)))
        headers += header_lines(spec.get("headers", {}))
        if ":" not in request_headers.get(":local-address", ""):  # a forgotten IPv6 front end
            headers += header_lines(spec.get("v4_headers", {}))
        origin = request_headers.get("origin")
        if spec.get("cors") in ("reflect", "reflect-credentials") and origin:
            headers += [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
            if spec["cors"] == "reflect-credentials":
                headers.append(("Access-Control-Allow-Credentials", "true"))
        if spec.get("gzip") and "gzip" in request_headers.get("accept-encoding", ""):
            body = gzip.compress(body, mtime=0)
            headers.append(("Content-Encoding", "gzip"))
        return Response(status, headers, body, float(spec.get("delay", 0.0)))

    def respond(self, method: str, path: str, request_headers: dict[str, str]) -> Response:
        if path in self.routes:
            return self._route(self.routes[path], request_headers)
        if self.redirect_to:
            return Response(301, [("Location", self.redirect_to + path), *self.headers], b"")
        if path in self.files:
            ctype, body = self.files[path]
            return Response(200, [("Content-Type", ctype)], body)
        if path != "/" and not path.startswith("/?"):
            return Response(404, [("Content-Type", NOT_FOUND[0]), *self.headers], NOT_FOUND[1].encode())
        ctype = [] if any(n.lower() == "content-type" for n, _ in self.headers) else [
            ("Content-Type", PAGE_TYPE)]
        return Response(200, [*ctype, *self.headers], self.body)


async def read_head(reader: asyncio.StreamReader) -> bytes | None:
    """A request head (up to the blank line), None when the client sends none within the timeout."""
    try:
        return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), HEAD_TIMEOUT)
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
        return None


class WebServer(Listener):
    """One HTTP listener: (ip, free port), TLS optional, answering with `site` (or a custom handler).

    With `keep_alive` the connection stays open for the next request, as real servers keep
    it (HTTP/1.1 persistent connections, RFC 9112 §9.3), until the client closes it, asks
    for `Connection: close`, or stays idle for `HEAD_TIMEOUT`; otherwise every answer closes it.
    """

    def __init__(self, ip: str, site: Site | None, tls: ssl.SSLContext | Callable[[], ssl.SSLContext] | None = None,
                 handler: Handler | None = None, keep_alive: bool = False) -> None:
        super().__init__(ip, handler or self._client, tls)
        self.site, self.keep_alive = site, keep_alive

    def site_for(self, headers: dict[str, str]) -> Site | None:
        """The site that answers a request (one per listener here; by Host for virtual hosts)."""
        return self.site

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (head := await read_head(reader)) is not None:
            method = "GET"
            headers: dict[str, str] = {}
            try:
                lines = head[:MAX_HEAD].decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                for line in lines[1:]:
                    if ":" in line:
                        name, value = line.split(":", 1)
                        headers[name.strip().lower()] = value.strip()
                headers[":local-address"] = (writer.get_extra_info("sockname") or ("",))[0]
                site = self.site_for(headers)
                resp = site.respond(method, target, headers) if site else Response(404, [], b"")
            except ValueError:
                resp = Response(400, [], b"")
            if resp.delay:
                await asyncio.sleep(resp.delay)
            keep = self.keep_alive and headers.get("connection", "").lower() != "close"
            out = [f"HTTP/1.1 {resp.status} {REASONS.get(resp.status, 'Status')}\r\n"]
            out += [f"{name}: {value}\r\n" for name, value in resp.headers]
            out.append(f"Content-Length: {len(resp.body)}\r\nConnection: {'keep-alive' if keep else 'close'}\r\n\r\n")
            writer.write("".join(out).encode("latin-1") + (resp.body if method != "HEAD" else b""))
            await writer.drain()
            if not keep:
                return
