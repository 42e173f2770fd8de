"""DKIM public keys in the DNS (RFC 6376 §3.6.1, RFC 8301, RFC 8463): the key record at
`<selector>._domainkey.<domain>` and what a verifier can do with it.

The record is a tag list (§3.2: names are case-sensitive, whitespace may fold, a name used
twice makes the whole list invalid). `parse_key` returns the key type, its size (RSA
modulus bits, or the Ed25519 key length) and every error with its position; the limits a
verifier applies (key sizes, hashes) are data: `data/mail/dkim.toml`.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from scanner.standards import read_toml
from scanner.standards.grammar import Issue, split_tags

_TAG_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")  # §3.2 tag-name = ALPHA *ALNUMPUNC
_B64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")


@cache
def rules() -> dict[str, Any]:
    return read_toml("mail", "dkim.toml")


def key_name(selector: str, domain: str) -> str:
    """§3.6.2.1: where a selector's key lives."""
    return f"{selector}._domainkey.{domain.rstrip('.')}"


@dataclass
class Key:
    text: str
    key_type: str = "rsa"  # k=, default rsa
    bits: int | None = None  # RSA modulus size; 256 for Ed25519
    revoked: bool = False  # p= empty (§3.6.1)
    testing: bool = False  # t=y
    hashes: list[str] | None = None  # h=, None: any
    email: bool = True  # s= allows email
    issues: list[Issue] = field(default_factory=list)


def parse_key(text: str) -> Key:
    out = Key(text)
    tags, issues = split_tags(text, fws=True)
    out.issues += issues
    names = [t.name for t in tags]
    for tag in tags:
        if not _TAG_NAME.fullmatch(tag.name):
            out.issues.append(Issue("dkim_tag_syntax", tag.at, tag.index, {"text": tag.name[:40]}))
        if names.count(tag.name) > 1:  # §3.2: the entire tag-list is invalid
            out.issues.append(Issue("dkim_duplicate_tag", tag.at, tag.index, {"tag": tag.name}))
            return out
    values = {t.name: t for t in tags}
    version = values.get("v")
    if version is not None and (version.value != "DKIM1" or tags[0].name != "v"):
        out.issues.append(Issue("dkim_version", version.at, version.index, {"value": version.value[:20]}))
    if "k" in values:
        out.key_type = values["k"].value.lower()
        if out.key_type not in rules()["key_types"]:
            out.issues.append(Issue("dkim_key_type", values["k"].at, values["k"].index, {"value": out.key_type[:20]}))
    if "h" in values:
        out.hashes = [h.strip().lower() for h in values["h"].value.split(":")]
    if "s" in values:
        out.email = bool({s.strip() for s in values["s"].value.split(":")} & {"*", "email"})
    if "t" in values:
        out.testing = "y" in {f.strip() for f in values["t"].value.split(":")}
    public = values.get("p")
    if public is None:
        out.issues.append(Issue("dkim_no_key", None, None))
        return out
    data = re.sub(r"[ \t\r\n]", "", public.value)
    if not data:
        out.revoked = True
        return out
    try:
        if not _B64.fullmatch(data):
            raise binascii.Error
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        out.issues.append(Issue("dkim_key_encoding", public.at, public.index))
        return out
    out.bits = _key_bits(out.key_type, raw)
    if out.bits is None and out.key_type in rules()["key_types"]:
        out.issues.append(Issue("dkim_key_data", public.at, public.index, {"key_type": out.key_type}))
    return out


def _key_bits(key_type: str, raw: bytes) -> int | None:
    if key_type == "ed25519":
        return 256 if len(raw) == rules()["key_types"]["ed25519"]["key_octets"] else None
    if key_type != "rsa":
        return None
    try:
        key = serialization.load_der_public_key(raw)
    except (ValueError, TypeError):
        return None
    return key.key_size if isinstance(key, rsa.RSAPublicKey) else None


def usable_hash(key: Key) -> bool:
    """RFC 8301 §3.1: a key restricted to sha1 (h=sha1) signs nothing a verifier accepts."""
    return key.hashes is None or bool(set(key.hashes) & set(rules()["hashes"]["usable"]))
