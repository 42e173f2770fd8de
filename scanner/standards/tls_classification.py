"""TLS classifications as data: NCSC-NL 2025, Mozilla intermediate 6.0, or any file like them.

A classification maps versions, suites, groups, DH sizes and key-exchange hashes to one
of four levels. Checks ask it for the level of what the probe saw and cite its title, so
a finding always says which rule it applied; a policy picks the classification by id
(threshold `tls.classification`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from scanner.standards import data, read_toml

LEVELS = ("good", "sufficient", "phase_out", "insufficient")
DEFAULT = "ncsc-nl-2025"


@dataclass(frozen=True)
class Classification:
    id: str
    title: str
    default: str
    versions: dict[str, str]
    suites: dict[str, str]
    groups: dict[str, str]
    hashes: dict[str, str]
    dh: dict[str, int]

    def version(self, name: str) -> str:
        return self.versions.get(name, self.default)

    def suite(self, name: str) -> str:
        return self.suites.get(name, self.default)

    def group(self, name: str) -> str:
        return self.groups.get(name, self.default)

    def hash(self, name: str) -> str:
        return self.hashes.get(name, self.default)

    def dh_group(self, name: str | None, bits: int) -> str:
        """Level of a finite-field group: by name when well known, else by size."""
        if name and name in self.groups:
            return self.groups[name]
        if bits >= self.dh.get("sufficient_bits", 3072):
            return "sufficient"
        if bits >= self.dh.get("phase_out_bits", 2048):
            return "phase_out"
        return "insufficient"


def _invert(table: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for level, names in table.items():
        if level not in LEVELS:
            raise ValueError(f"unknown level {level!r}")
        for name in names:
            out[name] = level
    return out


@cache
def load(cid: str = DEFAULT) -> Classification:
    if cid not in available():
        raise ValueError(f"unknown TLS classification {cid!r} (known: {', '.join(available())})")
    table = read_toml("tls", "classifications", f"{cid}.toml")
    meta = table["classification"]
    return Classification(
        id=meta["id"], title=meta["title"], default=meta.get("default", "insufficient"),
        versions=dict(table.get("versions", {})), suites=_invert(table.get("suites", {})),
        groups=_invert(table.get("groups", {})), hashes=_invert(table.get("hashes", {})),
        dh={k: int(v) for k, v in table.get("dh", {}).items()},
    )


def available() -> list[str]:
    return sorted(f.name.removesuffix(".toml") for f in data("tls", "classifications").iterdir()
                  if f.name.endswith(".toml"))

