"""Derive cipher-suites.csv from the IANA registry rows (iana-cipher-suites.csv).

Run `python scripts/derive_tls_suites.py` after updating the IANA file
(`scanner/standards/data/tls/iana-cipher-suites.csv`). The
attributes follow from the registered names (TLS_<kex>_<auth>_WITH_<enc>_<mac>), so a
reviewer can diff both files against the published registry. A test checks that the
committed CSV equals what this script writes.
"""

from __future__ import annotations

import csv
import io
import re

from scanner.standards import data

COLUMNS = ("value", "name", "kex", "auth", "enc", "bits", "aead", "fs", "mac", "versions", "recommended")

# key-exchange part of the name -> (key exchange, authentication)
_KX = {
    "NULL": ("NULL", "NULL"),
    "RSA": ("RSA", "RSA"),
    "RSA_EXPORT": ("RSA_EXPORT", "RSA"),
    "DH_DSS": ("DH", "DSS"), "DH_RSA": ("DH", "RSA"),
    "DH_DSS_EXPORT": ("DH_EXPORT", "DSS"), "DH_RSA_EXPORT": ("DH_EXPORT", "RSA"),
    "DHE_DSS": ("DHE", "DSS"), "DHE_RSA": ("DHE", "RSA"),
    "DHE_DSS_EXPORT": ("DHE_EXPORT", "DSS"), "DHE_RSA_EXPORT": ("DHE_EXPORT", "RSA"),
    "DH_anon": ("DHE", "anon"), "DH_anon_EXPORT": ("DHE_EXPORT", "anon"),
    "KRB5": ("KRB5", "KRB5"), "KRB5_EXPORT": ("KRB5_EXPORT", "KRB5"),
    "PSK": ("PSK", "PSK"), "DHE_PSK": ("DHE", "PSK"), "RSA_PSK": ("RSA", "PSK"),
    "PSK_DHE": ("DHE", "PSK"), "ECDHE_PSK": ("ECDHE", "PSK"),
    "ECDH_ECDSA": ("ECDH", "ECDSA"), "ECDH_RSA": ("ECDH", "RSA"),
    "ECDHE_ECDSA": ("ECDHE", "ECDSA"), "ECDHE_RSA": ("ECDHE", "RSA"),
    "ECDH_anon": ("ECDHE", "anon"),
    "SRP_SHA": ("SRP", "SRP"), "SRP_SHA_RSA": ("SRP", "RSA"), "SRP_SHA_DSS": ("SRP", "DSS"),
    "ECCPWD": ("ECCPWD", "ECCPWD"),
    "GOSTR341112_256": ("GOST", "GOST"),
}
_MACS = ("SHA384", "SHA256", "SHA", "MD5", "SM3", "OMAC", "IMIT")
_AEAD = re.compile(r"GCM|CCM|POLY1305|MGM|AEGIS")
_FS = {"DHE", "ECDHE", "DHE_EXPORT", "ANY"}


def _bits(enc: str) -> int:
    if enc.startswith("NULL"):
        return 0
    if enc.startswith("3DES"):
        return 112
    if "DES40" in enc or "DES_CBC_40" in enc or enc.endswith("_40"):
        return 40
    if enc.startswith("DES"):
        return 56
    if enc.startswith(("CHACHA20", "KUZNYECHIK", "MAGMA", "28147")):
        return 256 if not enc.startswith("MAGMA") else 256
    if enc.startswith(("IDEA", "SEED", "SM4", "AEGIS_128")):
        return 128
    m = re.search(r"_(\d+)", enc)
    return int(m.group(1)) if m else 0


def derive(value: str, name: str, recommended: str) -> dict[str, str]:
    """Attributes of one registered suite, from its name."""
    row = {"value": value, "name": name, "recommended": recommended}
    if name.endswith("_SCSV"):
        return {**row, "kex": "SCSV", "auth": "SCSV", "enc": "NONE", "bits": "0", "aead": "N", "fs": "N",
                "mac": "NONE", "versions": "none"}
    code = int(value, 16)
    body = name.removeprefix("TLS_")
    if "_WITH_" in body:
        kx, rest = body.split("_WITH_", 1)
        kex, auth = _KX[kx]
        versions = "tls12" if _needs_tls12(rest) else "ssl3-tls12"
    else:  # TLS 1.3 (and RFC 8998/9150) suites: key exchange and authentication are negotiated apart
        kex, auth, rest, versions = "ANY", "ANY", body, "tls13"
    if code in (0x00C6, 0x00C7) or code >> 8 == 0x13 or code in (0xC0B4, 0xC0B5) or 0xC103 <= code <= 0xC106:
        kex, auth, versions = "ANY", "ANY", "tls13"  # RFC 8998, 8446, 9150, 9367
    elif kex == "GOST":
        versions = "tls12"  # RFC 9189
    mac = next((m for m in _MACS if rest.endswith("_" + m) or rest == m), "")
    enc = rest[: -len(mac) - 1] if mac and rest.endswith("_" + mac) else rest
    if name in ("TLS_SHA256_SHA256", "TLS_SHA384_SHA384"):
        enc, mac = "NULL", name.split("_")[1]
    aead = bool(_AEAD.search(enc))
    if aead and mac in ("", "OMAC"):
        mac = "AEAD"
    return {**row, "kex": kex, "auth": auth, "enc": enc, "bits": str(_bits(enc)), "aead": "Y" if aead else "N",
            "fs": "Y" if kex in _FS else "N", "mac": mac or "AEAD", "versions": versions}


def _needs_tls12(rest: str) -> bool:
    """Suites with AEAD ciphers or SHA-2 MACs exist only from TLS 1.2 (RFC 5246 onwards)."""
    return bool(_AEAD.search(rest)) or rest.endswith(("_SHA256", "_SHA384")) or "ARIA" in rest


def render() -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, lineterminator="\n")
    writer.writeheader()
    with data("tls", "iana-cipher-suites.csv").open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            writer.writerow(derive(row["value"], row["name"], row["recommended"]))
    return out.getvalue()


if __name__ == "__main__":  # in a source checkout, where the package data is a folder
    with data("tls", "cipher-suites.csv").open("w", encoding="utf-8") as out:
        out.write(render())
