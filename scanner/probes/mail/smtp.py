"""SMTP probe: does an MX offer STARTTLS, and what does the TLS it starts look like?

A short, polite conversation (banner, EHLO, STARTTLS, EHLO, QUIT) with every reply
bounded in lines, bytes and time. No mail is ever sent.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from scanner.probes.certificate.dane import dane_facts
from scanner.probes.certificate.probe import (
    assess,
    negotiated_protocol,
    observing_context,
    served_chain,
)
from scanner.probes.context import ProbeContext
from scanner.probes.net import NotListening, ProbeError
from scanner.probes.tls.enumeration import AddressScan
from scanner.probes.tls.probe import probe_address

EHLO_NAME = "scanner.bolwerk.invalid"
MAX_LINE = 1024
MAX_LINES = 64


async def read_reply(reader: asyncio.StreamReader, timeout: float) -> tuple[int, list[str]]:
    """One SMTP reply (RFC 5321 §4.2): lines `ddd-text` ending with `ddd text`."""
    lines: list[str] = []
    async with asyncio.timeout(timeout):
        while len(lines) < MAX_LINES:
            try:
                raw = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError:
                raise ProbeError("SMTP reply line too long") from None
            except asyncio.IncompleteReadError:
                raise ProbeError("connection closed during SMTP reply") from None
            line = raw.decode("ascii", "replace").rstrip("\r\n")
            if len(line) < 3 or not line[:3].isdigit():
                raise ProbeError(f"not an SMTP reply: {line[:60]!r}")
            lines.append(line[4:])
            if len(line) == 3 or line[3] == " ":
                return int(line[:3]), lines
    raise ProbeError("SMTP reply has too many lines")


class NoStartTls(ProbeError):
    """The server answered SMTP but will not start TLS: a measured "no"."""


async def starttls_preamble(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, timeout: float) -> str:
    """Banner, EHLO, STARTTLS: after this the next bytes on the wire are a TLS handshake.

    Returns the banner; raises NoStartTls if the server will not start TLS.
    """
    code, lines = await read_reply(reader, timeout)
    if code != 220:
        raise ProbeError(f"server greeted with {code}")
    banner = (lines[0] if lines else "")[:200]
    writer.write(f"EHLO {EHLO_NAME}\r\n".encode())
    code, lines = await read_reply(reader, timeout)
    if code != 250:
        raise ProbeError(f"EHLO answered {code}")
    extensions = [line.split(" ", 1)[0].upper() for line in lines[1:]]
    if "STARTTLS" not in extensions:
        writer.write(b"QUIT\r\n")
        raise NoStartTls("STARTTLS is not offered")
    writer.write(b"STARTTLS\r\n")
    code, _ = await read_reply(reader, timeout)
    if code != 220:
        raise NoStartTls(f"STARTTLS answered {code}")
    return banner


class StartTlsScan(AddressScan):
    """The TLS enumeration, each connection opened with an SMTP STARTTLS conversation."""

    purpose = "smtp"
    line_limit = MAX_LINE
    full_alpn = ()  # SMTP has no ALPN protocol id to offer

    async def preamble(self, reader, writer) -> None:
        await starttls_preamble(reader, writer, self.ctx.io_timeout)


async def enumerate_starttls(ctx: ProbeContext, mx_host: str, ip: str, port: int = 25) -> dict[str, Any]:
    """Protocols, suites and groups an MX accepts after STARTTLS (the same frugal enumeration as HTTPS)."""
    return await probe_address(ctx, mx_host, ip, port, scan_class=StartTlsScan)


async def probe_starttls(ctx: ProbeContext, mx_host: str, ip: str, port: int = 25,
                         tlsa: dict[str, Any] | None = None) -> dict[str, Any]:
    """One full STARTTLS handshake (negotiated TLS, the certificate, and when `tlsa` holds the
    MX's TLSA records, which of them match the served chain: `dane`), then the enumeration
    (parts one and two of the TLS probe, each connection after its own STARTTLS)."""
    facts: dict[str, Any] = {"address": ip, "starttls": None}
    t = ctx.io_timeout
    try:
        async with ctx.network.tcp(mx_host, ip, port, "smtp", limit=MAX_LINE) as (reader, writer):
            facts["banner"] = await starttls_preamble(reader, writer, t)
            facts["starttls"] = True
            try:
                async with asyncio.timeout(t):
                    await writer.start_tls(observing_context(), server_hostname=mx_host)
            except (TimeoutError, ssl.SSLError, ConnectionError) as exc:
                # Still enumerated below: a server our client cannot finish a handshake with
                # may well accept hellos (SSL 3.0 only, broken implementations).
                facts["tls_error"] = f"TLS handshake failed: {exc or type(exc).__name__}"[:200]
            else:
                sslobj = writer.get_extra_info("ssl_object")
                facts["protocol"] = negotiated_protocol(sslobj)
                cipher = sslobj.cipher()
                facts["cipher"] = cipher[0] if cipher else None
                judged = assess(served_chain(writer), mx_host, ctx.now, ctx.ca_bundle, facts["protocol"])
                facts["certificate"] = judged.facts
                if tlsa and tlsa.get("records") and "error" not in judged.facts:
                    facts["dane"] = dane_facts(tlsa, judged.chain, judged.verified, judged.on_path,
                                               bool(judged.facts["trusted"]), bool(judged.facts["hostname_match"]))
                writer.write(b"QUIT\r\n")
    except NoStartTls as exc:
        facts["starttls"] = False
        facts["starttls_error"] = str(exc)
        return facts
    except NotListening as exc:
        facts["error"] = str(exc)
        facts["listening"] = False
        return facts
    except TimeoutError:
        facts["error"] = f"no SMTP reply within {t:g} s"
        return facts
    except (ProbeError, ConnectionError, OSError) as exc:
        facts["error"] = str(exc)[:200] or type(exc).__name__
        return facts
    facts["tls"] = await enumerate_starttls(ctx, mx_host, ip, port)
    return facts
