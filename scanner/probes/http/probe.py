"""HTTP probe: the enforcement matrix, headers, page facts, CORS and security.txt of an endpoint.

httpx does the HTTP; connections go through our `Network` by a network backend pinned
to the address our resolver chose, so every hop is resolved by the one resolver, its
addresses judged by the scan's address policy (`ProbeContext.addresses`), checked against
scope, capped and recorded. Redirects are followed here, hop by hop, at most
`MAX_REDIRECTS`; a Location is read once, by `scanner.standards.urls.parse`, and one it
refuses (credentials, a backslash, an ambiguous host...) ends the chain as a fact about
the site (`location_error`). Each request runs under an overall deadline that starts once
its connection slot is had (a trickling server never trips a per-read timeout; the
scanner's own queue is not the target's time), reads at most `BODY_CAP` bytes, and
decompresses at most as much again (a decompression bomb stops at the cap). A header
block larger than h11's limit (100 KiB) is a clean error fact. The page's HTML is parsed
in a CPU worker under `HTML_BUDGET` (`scanner/probes/cpu.py`), never on the event loop.

What is judged where (see also checks/http/):
- the enforcement matrix, as CISA's pshtt: https:// and http:// of the host and, for a
  bare domain, of its www name, each as a chain of hops (`https_chain`, `http_chain`,
  `www`);
- HSTS from the first HTTPS response of the endpoint (the one a browser sees first);
- headers, cookies and page facts from the *judged response*: the last response of the
  chain that is still on the endpoint's own host. A chain that goes on to another host
  (a central login page) is recorded (`final_url`, `leaves_host`) but that host's
  headers are not blamed on this endpoint: it is an endpoint of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import re
import ssl
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import httpcore
import httpx

from scanner.model import Endpoint
from scanner.probes import cpu
from scanner.probes.certificate.probe import observing_context
from scanner.probes.context import ProbeContext
from scanner.probes.deadline import deadline
from scanner.probes.http import html as http_html
from scanner.probes.http.redact import redact_text, redact_url
from scanner.probes.net import Lease, NotListening, ProbeError, Refused, caused_by
from scanner.probes.plugin import Probe, Target
from scanner.standards import security_txt, urls
from scanner.standards.public_suffix import registrable_domain
from scanner.standards.urls import Url, UrlError

BODY_CAP = 512 * 1024
SECURITY_TXT_CAP = 32 * 1024
MAX_REDIRECTS = 10
HEADER_LINES_CAP = 200
DEADLINE_FACTOR = 2  # one request, connect to last byte, within this many io_timeouts
KEEPALIVE_SECONDS = 4.0  # an idle connection is used again within this time (Apache closes its own after 5 s)
HTML_BUDGET = 5.0  # seconds of a CPU worker for one page's HTML or security.txt (a linear parse takes milliseconds)
CORS_PROBE_ORIGIN = "https://cors-check.bolwerk.invalid"  # RFC 2606: never a real site
# What a browser advertises; only encodings we can decompress (bounded) ourselves.
BROWSER_ENCODINGS = "gzip, deflate"
PARITY_HEADERS = ("strict-transport-security", "content-security-policy", "x-frame-options",
                  "x-content-type-options", "referrer-policy", "permissions-policy",
                  "cross-origin-opener-policy", "location")
PARITY_ADDRESSES = 4
REDIRECT_STATUSES = (301, 302, 303, 307, 308)


class _LeasedStream(httpcore.AsyncNetworkStream):
    """A network stream that gives its connection slot back when closed."""

    def __init__(self, inner: httpcore.AsyncNetworkStream, lease: Lease) -> None:
        self._inner, self._lease = inner, lease

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self._inner.read(max_bytes, timeout)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        await self._inner.write(buffer, timeout)

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._lease.release()

    async def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        try:
            inner = await self._inner.start_tls(ssl_context, server_hostname, timeout)
        except BaseException:
            self._lease.release()
            raise
        return _LeasedStream(inner, self._lease)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


def _headers_too_large(exc: BaseException) -> bool:
    """h11 gave up on the header block: its protocol error hints 431 (Request Header Fields Too Large)."""
    return caused_by(exc, lambda e: getattr(e, "error_status_hint", None) == 431)


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects any request of one client to one (host, ip) through the scanner's Network; the
    `fetcher`'s idle connections are closed before it waits for a connection slot."""

    def __init__(self, ctx: ProbeContext, host: str, ip: str, fetcher: Fetcher) -> None:
        self._ctx, self._host, self._ip, self._fetcher = ctx, host, ip, fetcher
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        async def connect(real_ip: str, real_port: int) -> httpcore.AsyncNetworkStream:
            return await self._inner.connect_tcp(real_ip, real_port, timeout=timeout)

        async with self._fetcher.waiting():
            stream, lease = await self._ctx.network.open(self._host, self._ip, port, "http", connect)
        return _LeasedStream(stream, lease)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    # We read headers even from servers with a broken certificate or only old TLS; the
    # certificate pillar judges the certificate, and checks combine its `trusted` fact with ours.
    ctx = observing_context()
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


@dataclass
class Fetched:
    url: Url
    ip: str
    status: int
    headers: list[tuple[str, str]]  # raw lines, in order (repeats kept)
    body: bytes  # decoded (decompressed) and capped
    truncated: bool
    content_encoding: str | None = None


def _describe(exc: httpx.HTTPError) -> str:
    if _headers_too_large(exc):
        return "response header block too large (over 100 KiB)"
    return f"{type(exc).__name__}: {exc}"


def _decode(raw: bytes, encoding: str | None, cap: int) -> tuple[bytes, bool]:
    """Undo gzip/deflate with the output bounded by `cap` (decompression bombs stop there)."""
    if not encoding or encoding in ("identity",):
        return raw, False
    if encoding in ("gzip", "x-gzip"):
        attempts = [zlib.MAX_WBITS | 16]
    elif encoding == "deflate":
        attempts = [zlib.MAX_WBITS, -zlib.MAX_WBITS]  # zlib-wrapped, or raw as some servers send
    else:
        return b"", False  # br, zstd...: we never asked for them; the body stays unread
    for wbits in attempts:
        try:
            d = zlib.decompressobj(wbits)
            out = d.decompress(raw, cap)
            return out, bool(d.unconsumed_tail)
        except zlib.error:
            continue
    return b"", False


class _Kept:
    """One server's connection within a probe (an origin at one address), kept alive between
    requests where the exchange allows it (HTTP/1.1 persistent connections, RFC 9112 §9.3).

    Requests to it take turns (`turn`). An idle connection keeps its connection slot, as the
    server keeps the connection open: the caps per host and per address count open
    connections, as the server sees them. It never keeps its own probe waiting: while a
    request of the probe waits for a slot, the probe keeps no idle connection (`Fetcher.waiting`).
    A response not read to its end, a server that says `Connection: close`, an expired or
    closed connection: the next request opens a new one.
    """

    def __init__(self, fetcher: Fetcher, origin: httpcore.Origin, host: str, ip: str) -> None:
        self.origin = origin
        self.turn = asyncio.Lock()
        self.backend = _PinnedBackend(fetcher.ctx, host, ip, fetcher)
        self.transport = httpx.AsyncHTTPTransport(verify=_tls_context(), retries=0)
        self.conn: httpcore.AsyncHTTPConnection | None = None

    async def take(self) -> bool:
        """Make the connection ready for a request: the idle one (True), or a new one that
        connects when the request is sent (False)."""
        if self.conn is not None and self.conn.is_available() and not self.conn.has_expired():
            return True
        await self.drop()
        # httpx has no public hook for a network backend; its transport takes a connection of ours.
        self.conn = self.transport._pool = httpcore.AsyncHTTPConnection(
            self.origin, ssl_context=_tls_context(), keepalive_expiry=KEEPALIVE_SECONDS,
            network_backend=self.backend)
        return False

    async def give_back(self, keep: bool) -> None:
        """After a response: idle when it may serve another and `keep`, else closed."""
        if not (keep and self.conn is not None and self.conn.is_available()):
            await self.drop()

    async def drop(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.aclose()


class Fetcher:
    """Single requests, pinned to an address, bounded in time and size, over one kept-alive
    connection per server (`_Kept`) until `aclose`.

    Requests go straight to an httpx transport, not through a client: a client parses the
    Location of every redirect response to prepare a next request, and a Location it cannot
    parse would cost us the response itself. Redirects are `HttpProbe.follow`'s business.
    """

    def __init__(self, ctx: ProbeContext) -> None:
        self.ctx = ctx
        self._kept: dict[tuple[bytes, bytes, int, str], _Kept] = {}  # (scheme, host, port, address)
        self._closed = False
        self._waiting = 0  # requests waiting for a connection slot (or connecting)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every idle connection; one still in use closes when its request ends."""
        self._closed = True
        kept, self._kept = self._kept, {}
        for one in kept.values():
            if not one.turn.locked():
                await one.drop()

    @contextlib.asynccontextmanager
    async def waiting(self) -> AsyncIterator[None]:
        """Around a wait for a connection slot: the probe's idle connections are closed first,
        and none is kept idle until the wait is over, so the probe never waits on a slot that
        its own idle connection holds (nor two probes on each other's)."""
        self._waiting += 1
        try:
            for one in list(self._kept.values()):
                if not one.turn.locked():
                    await one.drop()
            yield
        finally:
            self._waiting -= 1

    def _server(self, request: httpx.Request, host: str, ip: str) -> _Kept:
        url = request.url
        origin = httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target="/").origin
        key = (origin.scheme, origin.host, origin.port, ip)
        kept = self._kept.get(key)
        if kept is None:
            kept = _Kept(self, origin, host, ip)
            if not self._closed:
                self._kept[key] = kept
        return kept

    async def get(self, url: Url, ip: str, cap: int = BODY_CAP,
                  headers: dict[str, str] | None = None, accept_encoding: str = "identity") -> Fetched:
        req_headers = {"User-Agent": self.ctx.user_agent, "Accept": "*/*", "Accept-Encoding": accept_encoding}
        req_headers.update(headers or {})
        try:
            request = httpx.Request("GET", str(url.without_fragment()), headers=req_headers,
                                    extensions={"timeout": httpx.Timeout(self.ctx.io_timeout).as_dict()})
        except httpx.InvalidURL as exc:  # our own parser read it: a disagreement is a bug, said so
            raise ProbeError(f"GET {redact_url(url)}: httpx cannot read this URL: {exc}"[:300]) from None
        server = self._server(request, url.host, ip)
        raw = bytearray()
        truncated = False
        seconds = self.ctx.io_timeout * DEADLINE_FACTOR
        async with server.turn:  # our own queue, like a slot: outside the request's deadline
            try:
                async with deadline(seconds):
                    resp = await self._send(server, request)
                    try:
                        async for chunk in resp.aiter_raw():
                            raw += chunk
                            if len(raw) >= cap:
                                truncated = True
                                del raw[cap:]
                                break
                    finally:
                        await resp.aclose()
            except TimeoutError:
                raise ProbeError(f"GET {redact_url(url)} did not complete within {seconds:g} s") from None
            except httpx.HTTPError as exc:
                raise ProbeError(f"GET {redact_url(url)}: {_describe(exc)}"[:300]) from None
            finally:
                await server.give_back(keep=not self._closed and not self._waiting)
        encoding = resp.headers.get("content-encoding", "").strip().lower() or None
        body, more = _decode(bytes(raw), encoding, cap)
        return Fetched(url, ip, resp.status_code, list(resp.headers.multi_items()), body, truncated or more, encoding)

    @staticmethod
    async def _send(server: _Kept, request: httpx.Request) -> httpx.Response:
        """The response's head. A kept connection the server closed while it idled (the race
        RFC 9112 §9.3.1 allows retrying for) is tried once more on a new connection."""
        reused = await server.take()
        try:
            resp = await server.transport.handle_async_request(request)
        except (httpx.RemoteProtocolError, httpx.NetworkError):
            if not reused:
                raise
            await server.take()
            resp = await server.transport.handle_async_request(request)
        resp.request = request
        return resp


def combine_headers(items: list[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    """Header names lower-cased, repeats joined with ', ' (RFC 9110); Set-Cookie kept apart."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in items:
        name = name.lower()
        if name == "set-cookie":
            cookies.append(value)
        elif name in headers:
            headers[name] += ", " + value
        else:
            headers[name] = value
    return headers, cookies


def header_lines(items: list[tuple[str, str]], name: str) -> list[str]:
    """Every line of one header, in order (to see duplicates that combining would hide)."""
    return [v for n, v in items if n.lower() == name]


def repeated_headers(items: list[tuple[str, str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name, _ in items:
        counts[name.lower()] = counts.get(name.lower(), 0) + 1
    return {n: c for n, c in sorted(counts.items()) if c > 1 and n != "set-cookie"}


def parse_cookie(raw: str) -> dict[str, Any]:
    """A Set-Cookie line without its value (never stored: it may be a session token)."""
    parts = [p.strip() for p in raw.split(";")]
    name = parts[0].split("=", 1)[0].strip()
    attrs: dict[str, Any] = {"name": name[:100], "secure": False, "httponly": False, "samesite": None,
                             "path": None, "domain": None}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        key = key.strip().lower()
        if key in ("secure", "httponly", "partitioned"):
            attrs[key] = True
        elif key in ("samesite", "path", "domain", "max-age", "expires"):
            attrs[key] = value.strip()[:100]
    return attrs


_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def parse_hsts(value: str | list[str] | None) -> dict[str, Any] | None:
    """Strict-Transport-Security per RFC 6797 §6.1 and §8.1.

    Given every header line, only the first is processed (§8.1) and the count is kept.
    A header that breaks the grammar (a directive twice, no max-age, a bad value) is
    ignored by browsers: `valid` is false and `errors` says why.
    """
    lines = [value] if isinstance(value, str) else list(value or [])
    if not lines:
        return None
    first = lines[0]
    out: dict[str, Any] = {"max_age": None, "include_subdomains": False, "preload": False, "raw": first[:300],
                           "valid": True, "errors": [], "count": len(lines)}
    seen: set[str] = set()
    for directive in first.split(";"):
        directive = directive.strip()
        if not directive:
            continue
        name, eq, arg = directive.partition("=")
        name, arg = name.strip().lower(), arg.strip()
        if not _TOKEN.match(name):
            out["errors"].append(f"malformed directive {directive[:40]!r}")
            continue
        if name in seen:
            out["errors"].append(f"directive {name} appears more than once")
            continue
        seen.add(name)
        if arg.startswith('"') and arg.endswith('"') and len(arg) >= 2:
            arg = arg[1:-1]
        if name == "max-age":
            if eq and arg.isdigit():
                out["max_age"] = int(arg)
            else:
                out["errors"].append(f"max-age value {arg[:20]!r} is not a number of seconds")
        elif name == "includesubdomains":
            out["include_subdomains"] = True
            if eq:
                out["errors"].append("includeSubDomains takes no value")
        elif name == "preload":
            out["preload"] = True
    if out["max_age"] is None and not any("max-age" in e for e in out["errors"]):
        out["errors"].append("max-age is missing")
    out["valid"] = not out["errors"]
    if out["errors"]:  # an invalid header is ignored: none of its directives take effect
        out["include_subdomains"] = out["preload"] = False
        out["max_age"] = None
    return out


async def contact_address(ctx: ProbeContext, url: Url) -> str:
    """Where to connect for `url`: the first of its host's addresses the address policy
    allows; Refused (with the policy's reason) when it allows none, ProbeError when there is none."""
    allowed, refused = await ctx.addresses(url.host, url.effective_port or 0, "http")
    if allowed:
        return allowed[0]
    if refused:
        raise Refused(refused[0]["reason"])
    raise ProbeError(f"{url.host} has no A or AAAA record")


def _host_of(shown: str) -> str:
    """The host of a URL as the probe shows it (its own, parsed output), "" when there is none."""
    try:
        return urls.parse(shown).host
    except UrlError:
        return ""


def _same_host(url: Url | str, host: str) -> bool:
    return (url.host if isinstance(url, Url) else _host_of(url)) == host


def _next_hop(location: str, base: Url, hop: dict[str, Any]) -> Url | None:
    """The URL a Location sends to, read once; one the parser refuses is the hop's fact."""
    try:
        nxt = urls.parse(location, base)
    except UrlError as exc:
        hop.update(location=redact_text(location.strip()), location_error=exc.code,
                   error=f"unusable Location: {exc}")
        return None
    hop["location"] = shown_url(str(nxt))
    return nxt


class HttpProbe:
    def __init__(self, ctx: ProbeContext) -> None:
        self.ctx = ctx
        self.fetcher = Fetcher(ctx)

    async def follow(self, url: Url, first_ip: str | None, *, accept_encoding: str = BROWSER_ENCODINGS,
                     cap: int = BODY_CAP) -> tuple[list[dict[str, Any]], list[Fetched]]:
        """Follow redirects hop by hop; each hop resolved, scoped and held to the address policy.

        `first_ip`: where the first hop connects (None: resolve it like any hop). Returns the
        recorded hops (URLs redacted) and the responses, one per answered hop.
        """
        hops: list[dict[str, Any]] = []
        responses: list[Fetched] = []
        seen: set[Url] = set()
        ip = first_ip
        for _ in range(MAX_REDIRECTS + 1):
            shown = redact_url(url)
            if url.without_fragment() in seen:
                hops.append({"url": shown, "error": "redirect loop", "loop": True})
                break
            seen.add(url.without_fragment())
            try:
                if ip is None:
                    ip = await contact_address(self.ctx, url)
                fetched = await self.fetcher.get(url, ip, cap=cap, accept_encoding=accept_encoding)
            except Refused as exc:
                hops.append({"url": shown, "address": ip, "error": f"not followed: {exc}", "not_followed": True})
                break
            except NotListening as exc:
                hops.append({"url": shown, "address": ip, "error": str(exc), "refused": True})
                break
            except ProbeError as exc:
                hops.append({"url": shown, "address": ip, "error": str(exc)})
                break
            responses.append(fetched)
            hop: dict[str, Any] = {"url": shown, "address": ip, "status": fetched.status}
            sts = header_lines(fetched.headers, "strict-transport-security")
            if sts:
                hop["hsts"] = sts[0][:1024]
            locations = header_lines(fetched.headers, "location")
            if fetched.status in REDIRECT_STATUSES and locations:
                nxt = _next_hop(locations[0], url, hop)
                hops.append(hop)
                if nxt is None or not nxt.hierarchical or nxt.scheme not in ("http", "https"):
                    break
                url, ip = nxt, None
                continue
            hops.append(hop)
            break
        else:
            hops.append({"url": redact_url(url), "error": f"more than {MAX_REDIRECTS} redirects", "cap": True})
        return hops, responses

    async def security_txt(self, origin: Url, ip: str) -> dict[str, Any]:
        """/.well-known/security.txt (RFC 9116 §3); /security.txt only looked at when that fails."""
        out = await self._security_txt_at(_at_path(origin, "/.well-known/security.txt"), ip)
        if out.get("found") is False:
            legacy = await self._security_txt_at(_at_path(origin, "/security.txt"), ip)
            out["legacy"] = {k: legacy.get(k) for k in ("found", "url", "status", "content_type")}
        return out

    async def _security_txt_at(self, target: Url, ip: str) -> dict[str, Any]:
        url = str(target)
        hops, responses = await self.follow(target, ip, accept_encoding="identity", cap=SECURITY_TXT_CAP)
        if not responses or "status" not in hops[-1]:
            return {"found": None, "url": url, "error": hops[-1].get("error", "no response") if hops else "no response"}
        fetched = responses[-1]
        headers, _ = combine_headers(fetched.headers)
        ctype = headers.get("content-type", "")
        out: dict[str, Any] = {"found": False, "url": url, "status": fetched.status, "content_type": ctype[:200],
                               "final_url": redact_url(fetched.url), "expires": None, "contact": [],
                               "size": len(fetched.body), "truncated": fetched.truncated}
        if fetched.status != 200 or ctype.lower().startswith("text/html"):
            return out
        text = fetched.body.decode("utf-8", "replace")
        try:
            parsed = await cpu.run(security_txt.parse, text, budget=HTML_BUDGET)  # off the event loop, bounded
        except ProbeError as exc:
            return out | {"error": str(exc)}
        fields = parsed.fields
        if not fields:
            return out
        # The text is kept (capped by SECURITY_TXT_CAP) so checks parse and judge it, also on re-judging;
        # found, fields, signed, contact and expires stay for readers of the result (contract v1).
        out.update(found=True, text=text, fields=fields, signed=parsed.signed, contact=fields.get("contact", []),
                   expires=(fields.get("expires") or [None])[0])
        return out

    async def cors(self, url: Url, ip: str) -> dict[str, Any]:
        """One GET with a foreign Origin: is it allowed, reflected, with credentials?"""
        try:
            fetched = await self.fetcher.get(url, ip, cap=16 * 1024, headers={"Origin": CORS_PROBE_ORIGIN})
        except ProbeError as exc:
            return {"error": str(exc)}
        headers, _ = combine_headers(fetched.headers)
        allow = headers.get("access-control-allow-origin")
        return {"origin_sent": CORS_PROBE_ORIGIN, "status": fetched.status, "allow_origin": allow[:300] if allow else None,
                "allow_credentials": (headers.get("access-control-allow-credentials", "").strip().lower() == "true"),
                "reflected": allow is not None and allow.strip() == CORS_PROBE_ORIGIN,
                "vary_origin": "origin" in headers.get("vary", "").lower()}

    async def parity(self, url: Url, addresses: list[str], first: Fetched | None) -> list[dict[str, Any]]:
        """The endpoint's first response on each of its addresses (v4 and v6 alike)."""
        async def one(ip: str) -> dict[str, Any]:
            if first is not None and ip == first.ip:
                fetched = first
            else:
                try:
                    fetched = await self.fetcher.get(url, ip, cap=16 * 1024)
                except ProbeError as exc:
                    return {"address": ip, "error": str(exc)}
            headers, _ = combine_headers(fetched.headers)
            trimmed = _trim_headers(headers)
            return {"address": ip, "status": fetched.status,
                    "headers": {h: trimmed[h][:1024] for h in PARITY_HEADERS if h in trimmed}}

        return list(await asyncio.gather(*(one(ip) for ip in addresses[:PARITY_ADDRESSES])))

    async def www(self, host: str) -> dict[str, Any]:
        """The www name of a bare domain: its own https:// and http:// chains (pshtt)."""
        name = f"www.{host}"
        try:
            addresses, refused = await self.ctx.addresses(name, 443, "http")
        except ProbeError as exc:
            return {"host": name, "exists": None, "error": str(exc)}
        if refused and not addresses:
            return {"host": name, "exists": None, "error": f"not followed: {refused[0]['reason']}",
                    "refused_addresses": refused}
        if not addresses:
            return {"host": name, "exists": False}
        (https_hops, _), (http_hops, _) = await asyncio.gather(
            self.follow(Url("https", name, None, "/"), addresses[0]),
            self.follow(Url("http", name, None, "/"), addresses[0]))
        return {"host": name, "exists": True, "addresses": addresses, "https_chain": https_hops,
                "http_chain": http_hops}

    async def html(self, page: Fetched, content_type: str) -> dict[str, Any]:
        """The page's HTML facts, parsed in a CPU worker under HTML_BUDGET: a page that overruns
        it is this page's error fact, and never holds up another target."""
        try:
            return await cpu.run(http_html.extract, page.body, page.url, http_html.charset_of(content_type),
                                 budget=HTML_BUDGET)
        except ProbeError as exc:
            return {"error": str(exc)}

    async def probe(self, endpoint: Endpoint, addresses: list[str]) -> dict[str, Any]:
        if not addresses:
            return {"error": f"{endpoint.host} has no address"}
        ip = addresses[0]
        host = endpoint.host
        https_url = _endpoint_url(endpoint, "https")
        http_url = _endpoint_url(endpoint, "http")
        bare = registrable_domain(host) == host

        async def nothing() -> None:
            return None

        (https_hops, https_resp), (http_hops, http_resp), www = await asyncio.gather(
            self.follow(https_url, ip), self.follow(http_url, ip),
            self.ctx.cached(("www", host), lambda: self.www(host)) if bare else nothing())

        facts: dict[str, Any] = {"https": None, "redirects_to_https": None, "final_url": None, "status": None,
                                 "hsts": None, "headers": {}, "cookies": [], "security_txt": None,
                                 "https_chain": https_hops, "http_chain": http_hops, "www": www}
        first = https_hops[0]
        if "status" in first:
            facts["https"] = True
        elif first.get("refused"):
            facts["https"] = False
        else:
            facts["https_error"] = first.get("error")
        if "status" in http_hops[0]:
            facts["http_listening"] = True
            # pshtt "redirects to HTTPS": the chain reaches an https:// URL, even one not followed
            facts["redirects_to_https"] = any(h["url"].startswith("https://") for h in http_hops[1:])
            loc = http_hops[0].get("location", "")
            facts["http_first_hop_https_same_host"] = loc.startswith("https://") and _same_host(loc, host)
            sts = header_lines(http_resp[0].headers, "strict-transport-security")
            facts["hsts_over_http"] = bool(sts)
        elif http_hops[0].get("refused"):
            facts["http_listening"] = False
        chain, responses = (https_hops, https_resp) if facts["https"] else (http_hops, http_resp)
        if not responses:
            if facts["https"] is None and not facts.get("http_listening"):
                facts["error"] = first.get("error") or http_hops[0].get("error") or "no response"
            return facts
        last_hop = next((h for h in reversed(chain) if "status" in h), chain[-1])
        facts["final_url"] = last_hop["url"]
        facts["status"] = last_hop["status"]
        if chain[-1].get("error"):
            facts["chain_error"] = chain[-1]["error"]
        own = [r for r in responses if _same_host(r.url, host)]
        judged = own[-1] if own else responses[0]
        leaving = next((r for r in responses if not _same_host(r.url, host)), None)
        off = next((h.get("location") for h in chain if h.get("location") and not _same_host(h["location"], host)), None)
        facts["leaves_host"] = _host_of(off) or None if off else None
        facts["leaves_host_followed"] = leaving is not None
        headers, _ = combine_headers(judged.headers)
        facts["response"] = {"url": redact_url(judged.url), "status": judged.status,
                             "header_lines": len(judged.headers), "repeated": repeated_headers(judged.headers)}
        facts["headers"] = _trim_headers(headers)
        cookies: dict[str, dict[str, Any]] = {}
        for r in own:
            for raw in header_lines(r.headers, "set-cookie")[:50]:
                parsed = parse_cookie(raw)
                parsed["scheme"] = r.url.scheme
                cookies.setdefault(parsed["name"], parsed)
        facts["cookies"] = list(cookies.values())[:50]
        facts["body_truncated"] = judged.truncated
        facts["content_encoding"] = judged.content_encoding
        ctype = headers.get("content-type", "")
        if judged.status not in REDIRECT_STATUSES and "html" in ctype.lower():
            facts["html"] = await self.html(judged, ctype)
        else:
            facts["html"] = None
        if facts["https"]:
            # HSTS counts on the endpoint's own first response: the one a browser sees first.
            facts["hsts"] = parse_hsts(header_lines(https_resp[0].headers, "strict-transport-security"))
            origin = _at_path(https_url, "/")
            facts["security_txt"], facts["cors"] = await asyncio.gather(
                self.ctx.cached(("security.txt", str(origin), ip), lambda: self.security_txt(origin, ip)),
                self.cors(https_url, ip))
        else:
            facts["cors"] = await self.cors(http_url, ip)
        if len(addresses) > 1:
            facts["per_address"] = await self.parity(https_url if facts["https"] else http_url, addresses,
                                                     responses[0])
        if date := headers.get("date"):
            try:
                facts["server_date"] = parsedate_to_datetime(date).isoformat()
            except (TypeError, ValueError, IndexError):
                pass
        return facts


URL_HEADERS = ("location", "content-location")


def _trim_headers(headers: dict[str, str]) -> dict[str, str]:
    """Capped in number and length; URLs redacted (a Location may carry a login state or code)."""
    out = {}
    for name, value in list(headers.items())[:HEADER_LINES_CAP]:
        out[name[:100]] = shown_url(value) if name in URL_HEADERS else value[:4096]
    return out


def shown_url(text: str) -> str:
    """A URL from the network as facts show it: parsed and redacted, or (a relative or refused
    one) its text with credentials cut out."""
    try:
        url = urls.parse(text)
    except UrlError:
        return redact_text(text.strip())
    return redact_url(url) if url.hierarchical else redact_text(str(url))


def _at_path(url: Url, path: str) -> Url:
    return Url(url.scheme, url.host, url.port, path)


def _endpoint_url(endpoint: Endpoint, scheme: str) -> Url:
    """The endpoint's URL under `scheme`: its own port for its own scheme, else the default."""
    port = endpoint.port if endpoint.scheme == scheme else urls.DEFAULT_PORTS[scheme]
    host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
    try:
        return urls.parse(f"{scheme}://{host}:{port}{endpoint.path}")
    except UrlError as exc:
        raise ProbeError(f"{endpoint.target}: {exc}") from None


async def fetch_url(ctx: ProbeContext, url: str, cap: int) -> Fetched:
    """One GET without redirects at a host the inventory implies (an MTA-STS policy, which must
    not redirect); its address held to the scan's address policy like any other."""
    try:
        target = urls.parse(url)
    except UrlError as exc:
        raise ProbeError(f"{redact_text(url)}: {exc}") from None
    async with Fetcher(ctx) as fetcher:
        return await fetcher.get(target, await contact_address(ctx, target), cap=cap)


async def probe_http(ctx: ProbeContext, endpoint: Endpoint, addresses: list[str]) -> dict[str, Any]:
    """The endpoint's HTTP facts; its kept-alive connections are closed when they are in."""
    probe = HttpProbe(ctx)
    async with probe.fetcher:
        return await probe.probe(endpoint, addresses)


async def collect(ctx: ProbeContext, target: Target) -> dict[str, dict[str, Any]]:
    return {"http": await probe_http(ctx, target.endpoint, list(target.addresses))}


PROBE = Probe("http", ("http",), collect, label="HTTP probe")
