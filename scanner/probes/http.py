"""HTTP probe: fetch over https and http, follow redirects ourselves, collect headers.

httpx does the HTTP; connections go through our `Network` by a network backend pinned
to the address our resolver chose, so every hop is resolved by the one resolver,
checked against scope and the SSRF guard, capped and recorded. Each request runs under
an overall deadline (a trickling server never trips a per-read timeout) and reads at
most `BODY_CAP` bytes.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from scanner.model import Endpoint
from scanner.probes.context import ProbeContext
from scanner.probes.net import NotListening, ProbeError, Refused

BODY_CAP = 512 * 1024
SECURITY_TXT_CAP = 32 * 1024
MAX_REDIRECTS = 10


class _LeasedStream(httpcore.AsyncNetworkStream):
    """A network stream that gives its connection slot back when closed."""

    def __init__(self, inner: httpcore.AsyncNetworkStream, lease) -> None:
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


def _refused(exc: BaseException | None, depth: int = 0) -> bool:
    """Was this connect failure, somewhere in its causes, a refused connection?"""
    if exc is None or depth > 6:
        return False
    if isinstance(exc, ConnectionRefusedError):
        return True
    if isinstance(exc, BaseExceptionGroup):
        return any(_refused(e, depth + 1) for e in exc.exceptions)
    return _refused(exc.__cause__ or exc.__context__, depth + 1)


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects any request of one client to one (host, ip) through the scanner's Network."""

    def __init__(self, ctx: ProbeContext, host: str, ip: str, origin_ip: str | None) -> None:
        self._ctx, self._host, self._ip, self._origin = ctx, host, ip, origin_ip
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        net = self._ctx.network
        lease, real_port = await net.acquire(self._host, self._ip, port, "http", self._origin)
        try:
            stream = await self._inner.connect_tcp(self._ip.split("%", 1)[0], real_port, timeout=timeout)
        except BaseException as exc:
            lease.release()
            if _refused(exc):
                net.record(self._host, self._ip, port, "http", "failed: connection refused")
                raise NotListening(f"nothing listens on {self._ip} port {port}") from None
            net.record(self._host, self._ip, port, "http", f"failed: {exc}")
            raise
        net.record(self._host, self._ip, port, "http", "open")
        return _LeasedStream(stream, lease)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def _tls_context() -> ssl.SSLContext:
    # We read headers even from servers with a broken certificate; the certificate
    # pillar judges the certificate, and `https_valid` records what a browser would do.
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


@dataclass
class Fetched:
    url: str
    ip: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    truncated: bool


class Fetcher:
    """Single requests, pinned to an address, bounded in time and size."""

    def __init__(self, ctx: ProbeContext) -> None:
        self.ctx = ctx

    async def get(self, url: str, ip: str, origin_ip: str | None, cap: int = BODY_CAP,
                  headers: dict[str, str] | None = None) -> Fetched:
        host = urlsplit(url).hostname or ""
        transport = httpx.AsyncHTTPTransport(verify=_tls_context(), retries=0)
        # httpx has no public hook for a network backend; its pool takes one.
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=_tls_context(),
            max_connections=1,
            max_keepalive_connections=0,
            network_backend=_PinnedBackend(self.ctx, host, ip, origin_ip),
        )
        timeout = httpx.Timeout(self.ctx.io_timeout)
        req_headers = {"User-Agent": self.ctx.user_agent, "Accept": "*/*", "Accept-Encoding": "identity"}
        req_headers.update(headers or {})
        async with httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False,
                                     trust_env=False) as client:
            try:
                async with asyncio.timeout(self.ctx.io_timeout * 3):
                    async with client.stream("GET", url, headers=req_headers) as resp:
                        body = bytearray()
                        truncated = False
                        async for chunk in resp.aiter_raw():
                            body += chunk
                            if len(body) >= cap:
                                truncated = True
                                del body[cap:]
                                break
                        return Fetched(url, ip, resp.status_code, list(resp.headers.multi_items()), bytes(body), truncated)
            except TimeoutError:
                raise ProbeError(f"GET {url} did not complete within {self.ctx.io_timeout * 3:g} s") from None
            except httpx.HTTPError as exc:
                raise ProbeError(f"GET {url}: {type(exc).__name__}: {exc}"[:300]) from None


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


def parse_cookie(raw: str) -> dict[str, Any]:
    """A Set-Cookie line without its value (never stored: it may be a session token)."""
    parts = [p.strip() for p in raw.split(";")]
    name = parts[0].split("=", 1)[0].strip()
    attrs: dict[str, Any] = {"name": name, "secure": False, "httponly": False, "samesite": None,
                             "path": None, "domain": None}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        key = key.strip().lower()
        if key in ("secure", "httponly"):
            attrs[key] = True
        elif key in ("samesite", "path", "domain", "max-age", "expires"):
            attrs[key] = value.strip()
    return attrs


def parse_hsts(value: str | None) -> dict[str, Any] | None:
    if value is None:
        return None
    out: dict[str, Any] = {"max_age": None, "include_subdomains": False, "preload": False, "raw": value[:300]}
    for directive in value.split(";"):
        name, _, arg = directive.strip().partition("=")
        name = name.strip().lower()
        if name == "max-age":
            try:
                out["max_age"] = int(arg.strip().strip('"'))
            except ValueError:
                out["max_age"] = None
        elif name == "includesubdomains":
            out["include_subdomains"] = True
        elif name == "preload":
            out["preload"] = True
    return out


class HttpProbe:
    def __init__(self, ctx: ProbeContext) -> None:
        self.ctx = ctx
        self.fetcher = Fetcher(ctx)

    async def _address(self, host: str) -> str:
        addresses = await self.ctx.resolver.addresses(host)
        if not addresses:
            raise ProbeError(f"{host} has no A or AAAA record")
        return addresses[0]

    async def follow(self, url: str, first_ip: str) -> tuple[list[dict[str, Any]], Fetched | None]:
        """Follow redirects hop by hop; each hop resolved, scoped and SSRF-checked."""
        hops: list[dict[str, Any]] = []
        seen: set[str] = set()
        ip: str | None = first_ip
        last: Fetched | None = None
        for _ in range(MAX_REDIRECTS + 1):
            if url in seen:
                hops.append({"url": url, "error": "redirect loop"})
                break
            seen.add(url)
            host = urlsplit(url).hostname or ""
            try:
                if ip is None:
                    ip = await self._address(host)
                fetched = await self.fetcher.get(url, ip, first_ip)
            except Refused as exc:
                hops.append({"url": url, "address": ip, "error": f"not followed: {exc}", "not_followed": True})
                break
            except NotListening as exc:
                hops.append({"url": url, "address": ip, "error": str(exc), "refused": True})
                break
            except ProbeError as exc:
                hops.append({"url": url, "address": ip, "error": str(exc)})
                break
            last = fetched
            headers, _ = combine_headers(fetched.headers)
            hop = {"url": url, "address": ip, "status": fetched.status}
            if "strict-transport-security" in headers:
                hop["hsts"] = headers["strict-transport-security"][:1024]
            location = headers.get("location")
            if fetched.status in (301, 302, 303, 307, 308) and location:
                nxt = urljoin(url, location.strip())
                hop["location"] = nxt
                hops.append(hop)
                if urlsplit(nxt).scheme not in ("http", "https"):
                    break
                url, ip = nxt, None
                continue
            hops.append(hop)
            break
        else:
            hops.append({"url": url, "error": f"more than {MAX_REDIRECTS} redirects"})
        return hops, last

    async def security_txt(self, origin: str, ip: str) -> dict[str, Any]:
        url = origin + "/.well-known/security.txt"
        try:
            fetched = await self.fetcher.get(url, ip, ip, cap=SECURITY_TXT_CAP)
        except ProbeError as exc:
            return {"found": None, "url": url, "error": str(exc)}
        headers, _ = combine_headers(fetched.headers)
        ctype = headers.get("content-type", "")
        text = fetched.body.decode("utf-8", "replace")
        found = fetched.status == 200 and ctype.lower().startswith("text/plain") and "contact:" in text.lower()
        out: dict[str, Any] = {"found": found, "url": url, "status": fetched.status, "content_type": ctype,
                               "expires": None, "contact": []}
        if found:
            for line in text.splitlines():
                key, _, value = line.partition(":")
                if key.strip().lower() == "expires":
                    out["expires"] = value.strip()
                elif key.strip().lower() == "contact":
                    out["contact"].append(value.strip())
        return out

    async def probe(self, endpoint: Endpoint, addresses: list[str]) -> dict[str, Any]:
        if not addresses:
            return {"error": f"{endpoint.host} has no address"}
        ip = addresses[0]
        host = endpoint.host
        https_port = endpoint.port if endpoint.scheme == "https" else 443
        https_url = _url("https", host, https_port, endpoint.path)
        http_url = _url("http", host, endpoint.port if endpoint.scheme == "http" else 80, endpoint.path)

        https_hops, https_last = await self.follow(https_url, ip)
        http_hops, http_last = await self.follow(http_url, ip)

        facts: dict[str, Any] = {"https": None, "redirects_to_https": None, "final_url": None, "status": None,
                                 "hsts": None, "headers": {}, "cookies": [], "security_txt": None,
                                 "https_chain": https_hops, "http_chain": http_hops}
        first = https_hops[0]
        if "status" in first:
            facts["https"] = True
        elif first.get("refused"):
            facts["https"] = False
        else:
            facts["https_error"] = first.get("error")
        if http_hops and "status" in http_hops[0]:
            first_http = http_hops[0]
            loc = first_http.get("location", "")
            facts["http_listening"] = True
            facts["redirects_to_https"] = any(h["url"].startswith("https://") and "status" in h for h in http_hops)
            facts["http_first_hop_https_same_host"] = loc.startswith(f"https://{host}")
        elif http_hops[0].get("refused"):
            facts["http_listening"] = False
        main = https_last if facts["https"] else http_last
        if main is None:
            if facts["https"] is None and not facts.get("http_listening"):
                facts["error"] = first.get("error") or http_hops[0].get("error") or "no response"
            return facts
        facts["final_url"] = main.url
        facts["status"] = main.status
        headers, raw_cookies = combine_headers(main.headers)
        facts["headers"] = _trim_headers(headers)
        facts["cookies"] = [parse_cookie(c) for c in raw_cookies[:50]]
        facts["body_truncated"] = main.truncated
        if facts["https"]:
            # HSTS counts on the response of the endpoint itself, the first hop.
            facts["hsts"] = parse_hsts(https_hops[0].get("hsts"))
            origin = _url("https", host, https_port, "").rstrip("/")
            facts["security_txt"] = await self.security_txt(origin, ip)
        if date := headers.get("date"):
            try:
                facts["server_date"] = parsedate_to_datetime(date).isoformat()
            except (TypeError, ValueError):
                pass
        return facts


def _trim_headers(headers: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, value in list(headers.items())[:200]:
        out[name[:100]] = value[:4096]
    return out


def _url(scheme: str, host: str, port: int, path: str) -> str:
    default = 443 if scheme == "https" else 80
    h = f"[{host}]" if ":" in host else host
    return f"{scheme}://{h}{'' if port == default else f':{port}'}{path}"


async def fetch_url(ctx: ProbeContext, url: str, cap: int) -> tuple[int, bytes]:
    """One GET without redirects (e.g. an MTA-STS policy, which must not redirect)."""
    host = urlsplit(url).hostname or ""
    addresses = await ctx.resolver.addresses(host)
    if not addresses:
        raise ProbeError(f"{host} has no address")
    fetched = await Fetcher(ctx).get(url, addresses[0], None, cap=cap)
    return fetched.status, fetched.body


async def probe_http(ctx: ProbeContext, endpoint: Endpoint, addresses: list[str]) -> dict[str, Any]:
    return await HttpProbe(ctx).probe(endpoint, addresses)
