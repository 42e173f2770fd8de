"""Misbehaving lab web servers: what a scanner must survive without hanging, swelling or following.

Each is a plain-HTTP connection handler registered with `@handler(name)`; set
`http_handler = "name"` on a `tls = "none"` web entry. Every handler is bounded on its own
side too (it stops when the client goes away or after a fixed time), so the lab always
stops cleanly.

- `huge-body`: announces and streams a 1 GiB body, produced lazily in 64 KiB chunks
  (never allocated);
- `many-headers`: 10,000 header lines (about 190 KiB of header block);
- `trickle`: a status line, then one header byte every quarter second (per-read timeouts
  never trip; only an overall deadline does). It gives up after `trickle_seconds` (2.5 s
  by default) so that full-estate scans in other tests stay quick; a scan with a shorter
  deadline (tests/test_http_hostile.py) still sees its deadline trip first.

Redirect loops and redirects to 169.254.169.254, `[::ffff:169.254.169.254]` or a name
that resolves into private space need no handler: they are `http_routes` in the estate.
"""

from __future__ import annotations

import asyncio

from scanner.lab.web import MAX_HEAD, Site, handler, read_head

GIB = 1 << 30
CHUNK = 64 * 1024
TRICKLE_INTERVAL = 0.25
HANDLER_LIMIT = 60.0  # seconds: no hostile connection outlives this


async def _gone(reader: asyncio.StreamReader, wait: float) -> bool:
    """Has the client closed its side? (waits up to `wait` seconds for an EOF)"""
    try:
        data = await asyncio.wait_for(reader.read(1024), wait)
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return data == b""


def _bounded(serve):
    """Answer a bounded request head, within the hostile limit (the listener closes the connection)."""

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with asyncio.timeout(HANDLER_LIMIT):
            head = await read_head(reader)
            if head is not None and len(head) <= MAX_HEAD:
                await serve(reader, writer)

    return run


@handler("huge-body")
def huge_body(entry: dict, site: Site):
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
                     + f"Content-Length: {GIB}\r\nConnection: close\r\n\r\n".encode())
        zeros = b"\0" * CHUNK  # one chunk, sent again and again
        sent = 0
        while sent < GIB and not writer.is_closing():
            writer.write(zeros)
            await writer.drain()
            sent += CHUNK
            if reader.at_eof():
                break

    return _bounded(serve)


@handler("many-headers")
def many_headers(entry: dict, site: Site):
    count = int(entry.get("header_count", 10_000))

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\n")
        for start in range(0, count, 100):  # in blocks, stopping as soon as the client hangs up
            if writer.is_closing():
                return
            writer.write("".join(f"X-Filler-{i}: vvvvvvvv\r\n" for i in range(start, min(count, start + 100))).encode())
            await writer.drain()
        writer.write(b"Content-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()

    return _bounded(serve)


@handler("trickle")
def trickle(entry: dict, site: Site):
    limit = float(entry.get("trickle_seconds", 2.5))

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        await writer.drain()
        loop = asyncio.get_running_loop()
        stop = loop.time() + limit
        while loop.time() < stop and not await _gone(reader, TRICKLE_INTERVAL) and not writer.is_closing():
            writer.write(b"z")
            await writer.drain()

    return _bounded(serve)
