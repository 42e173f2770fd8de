"""Signed Certificate Timestamps (RFC 6962 §3.2-3.3), from wherever a server delivers them.

Three routes: embedded in the certificate (X.509 extension 1.3.6.1.4.1.11129.2.4.2),
the TLS `signed_certificate_timestamp` extension (visible in cleartext on TLS 1.2, inside
the encrypted Certificate entry on TLS 1.3), and the stapled OCSP response. We count and
describe them; verifying their signatures needs the logs' public keys (the CT log list),
which Bolwerk does not bundle.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtensionOID

from scanner.times import rfc3339, rfc3339_epoch

MAX_SCTS = 32


def parse_sct_list(data: bytes) -> tuple[list[dict[str, Any]], str | None]:
    """A TLS-encoded SignedCertificateTimestampList -> (SCTs, problem)."""
    out: list[dict[str, Any]] = []
    if len(data) < 2:
        return out, "SCT list shorter than its length field"
    (total,) = struct.unpack("!H", data[:2])
    body = data[2:2 + total]
    if len(body) != total:
        return out, "SCT list truncated"
    pos = 0
    while pos < len(body) and len(out) < MAX_SCTS:
        if pos + 2 > len(body):
            return out, "SCT entry truncated"
        (size,) = struct.unpack("!H", body[pos:pos + 2])
        sct = body[pos + 2:pos + 2 + size]
        pos += 2 + size
        if len(sct) != size or size < 1 + 32 + 8 + 2 + 4:
            return out, "SCT entry truncated"
        version, log_id, timestamp = sct[0], sct[1:33], struct.unpack("!Q", sct[33:41])[0]
        (ext_len,) = struct.unpack("!H", sct[41:43])
        sig = sct[43 + ext_len:]
        if len(sig) < 4:
            return out, "SCT signature truncated"
        out.append({"version": version, "log_id": base64.b64encode(log_id).decode(),
                     "timestamp": rfc3339_epoch(timestamp / 1000), "hash": sig[0], "signature_algorithm": sig[1]})
    return out, None


def embedded_scts(cert: x509.Certificate) -> tuple[list[dict[str, Any]], str | None]:
    """SCTs embedded in the certificate by the CA (precertificate SCTs)."""
    try:
        ext = cert.extensions.get_extension_for_oid(ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS)
    except x509.ExtensionNotFound:
        return [], None
    except ValueError as exc:
        return [], f"embedded SCT list does not parse: {exc}"[:200]
    value = ext.value
    if isinstance(value, x509.UnrecognizedExtension):
        return [], "embedded SCT list does not parse"
    out, problem = [], None
    for sct in list(value)[:MAX_SCTS]:
        try:
            stamp = rfc3339(sct.timestamp)
        except (ValueError, OverflowError):  # a timestamp beyond any calendar
            stamp, problem = None, "an embedded SCT carries an impossible timestamp"
        out.append({"version": sct.version.value, "log_id": base64.b64encode(sct.log_id).decode(), "timestamp": stamp})
    return out, problem
