"""security.txt (RFC 9116) parsing: the fields of a file, no judgement. Pure, no I/O.

A file may be an OpenPGP cleartext-signed message (RFC 4880 §7): the armour lines are
recognised and dash-escaped lines unescaped; the signature itself is recorded as present,
not verified (the scanner carries no OpenPGP implementation, and RFC 9116 lets a reader
decide which keys to trust).
"""

from __future__ import annotations

import re
from typing import Any

SIGNED_HEAD = "-----BEGIN PGP SIGNED MESSAGE-----"
SIG_HEAD = "-----BEGIN PGP SIGNATURE-----"
FIELD = re.compile(r"^([A-Za-z0-9-]+):[ \t]*(.*?)\s*$")
VALUES_CAP = 10
VALUE_LEN = 300


def parse(text: str) -> dict[str, Any]:
    """Fields by lower-case name (each a list of values, in order), signature, bad lines."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    signed = False
    signature = False
    if lines and lines[0].strip() == SIGNED_HEAD:
        signed = True
        # skip the armour headers ("Hash: SHA256") up to the blank line
        i = 1
        while i < len(lines) and lines[i].strip():
            i += 1
        body: list[str] = []
        for line in lines[i + 1:]:
            if line.strip() == SIG_HEAD:
                signature = True
                break
            body.append(line[2:] if line.startswith("- ") else line)
        lines = body
    fields: dict[str, list[str]] = {}
    invalid: list[str] = []
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = FIELD.match(line)
        if not match:
            if len(invalid) < 5:
                invalid.append(line[:100])
            continue
        name, value = match.group(1).lower(), match.group(2)
        values = fields.setdefault(name, [])
        if len(values) < VALUES_CAP:
            values.append(value[:VALUE_LEN])
    return {"fields": fields, "signed": signed, "signature": signature, "invalid_lines": invalid}
