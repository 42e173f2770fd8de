"""Raw hellos that ask for the stapled OCSP response and SCTs, and read the server's answer.

Python's `ssl` cannot request certificate status, so for the stapled OCSP response and
SCTs delivered by TLS extension we speak the first flight ourselves: one ClientHello
with `status_request` (RFC 6066 §8) and `signed_certificate_timestamp` (RFC 6962 §3.3),
then we read the server's flight and hang up; the server sees an abandoned handshake.

- TLS 1.2 and older (`flight`): ServerHello, Certificate and CertificateStatus travel in
  clear; we read up to ServerHelloDone. No key exchange happens.
- TLS 1.3 (`tls13`): the Certificate message, with the OCSP response and SCTs
  on its leaf entry, is encrypted under handshake keys that follow from our own key
  share, so we complete the key exchange and decrypt up to it.

Every read is bounded in bytes, records and time. The hellos are built by `tls.wire`, as
the TLS pillar's; the answer is read by `flight` (TLS 1.2 and older) and
`tls13`, which only want the certificate messages.
"""

from __future__ import annotations

import asyncio

from scanner.probes.certificate.flight import Flight, FlightParser, client_hello
from scanner.probes.certificate.tls13 import Tls13FlightParser, client_hello13, key_shares
from scanner.probes.context import ProbeContext
from scanner.probes.net import ProbeError


async def read_flight(ctx: ProbeContext, host: str, ip: str, port: int, tls13: bool = False) -> Flight:
    """One raw hello (TLS 1.2, or TLS 1.3 with `tls13`) to ip:port for `host`; the server's first flight."""
    if tls13:
        shares = key_shares()
        hello = client_hello13(host, shares)
        parser: FlightParser = Tls13FlightParser(hello, shares)
    else:
        hello, parser = client_hello(host), FlightParser()
    version = "TLS 1.3" if tls13 else "TLS 1.2"
    try:
        async with ctx.network.tcp(host, ip, port, "certificate-status") as (reader, writer):
            writer.write(hello)
            async with asyncio.timeout(ctx.io_timeout * 2):
                while True:
                    chunk = await reader.read(16384)
                    if not chunk:
                        if not parser.flight.done and not parser.flight.error:
                            parser.flight.error = "the server closed the connection"
                        break
                    if parser.feed(chunk):
                        break
    except TimeoutError:
        parser.flight.error = "no complete answer in time"
    except ProbeError as exc:
        parser.flight.error = str(exc)
    except (ConnectionError, OSError) as exc:
        parser.flight.error = f"connection failed: {exc.strerror or exc}"[:200]
    if parser.flight.error:
        parser.flight.error = f"{version} hello: {parser.flight.error}"
    return parser.flight
