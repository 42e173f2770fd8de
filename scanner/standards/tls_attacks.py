"""Known TLS attacks as data: their names and CVE ids, and the published ROBOT oracle test.

`data/tls/attacks.toml` names each attack a check reports and its CVE identifiers;
`data/tls/robot.toml` holds the five ROBOT ClientKeyExchange blocks and the published
classification of the answers (no oracle, weak or strong oracle, inconsistent). The probe
builds the blocks from here, the checks classify the answers from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from scanner.standards import read_toml


@dataclass(frozen=True)
class Attack:
    id: str
    name: str
    kind: str  # active | behaviour | derived
    cve: tuple[str, ...]
    reference: str
    rules: Mapping[str, Any] = field(default_factory=dict)

    def exposes(self, version: str, suite: Any) -> bool:
        """Whether accepting `suite` (a registry CipherSuite) at `version` exposes to this attack."""
        r = self.rules
        if "versions" in r and version not in r["versions"]:
            return False
        return (suite.kex in r.get("kex", ()) or suite.enc in r.get("enc", ()) or suite.auth in r.get("auth", ())
                or suite.enc.startswith(tuple(r.get("enc_prefix", ()))) or suite.enc.endswith(tuple(r.get("enc_suffix", ()))))


@cache
def attacks() -> dict[str, Attack]:
    return {key: Attack(key, a["name"], a["kind"], tuple(a["cve"]), a["reference"], a.get("rules", {}))
            for key, a in read_toml("tls", "attacks.toml")["attack"].items()}


def attack(key: str) -> Attack:
    return attacks()[key]


@cache
def _robot() -> dict:
    return read_toml("tls", "robot.toml")


def robot_payloads() -> dict[str, list[str]]:
    """ROBOT block recipes by name (the order of the published test)."""
    return dict(_robot()["payloads"])


def robot_block(recipe: list[str], modulus_bytes: int, version: int) -> bytes:
    """One ROBOT PKCS#1 block for a modulus of `modulus_bytes` bytes and a TLS wire version."""
    secret = bytes((0x11 + i) % 0xFF or 1 for i in range(_robot()["secret_bytes"]))
    parts = {"version": version.to_bytes(2, "big"), "secret": secret}

    def part(name: str) -> bytes:
        return parts[name] if name in parts else bytes.fromhex(name)

    pad = modulus_bytes - sum(len(part(p)) for p in recipe if p != "padding")
    if pad < 8:
        raise ValueError(f"modulus of {modulus_bytes} bytes is too small for a PKCS#1 block")
    parts["padding"] = bytes((0xAB, 0xCD) * (pad // 2 + 1))[:pad]
    return b"".join(part(p) for p in recipe)


def robot_verdict(rounds: list[dict[str, str]]) -> str:
    """The published classification of the server's answers to each block: `no_oracle`,
    `weak_oracle`, `strong_oracle` or `inconsistent`. The first round answers every block;
    a later one may repeat only some, and must answer them as the first did."""
    first = rounds[0]
    if any(first.get(name) != answer for later in rounds[1:] for name, answer in later.items()):
        return "inconsistent"
    if len(set(first.values())) == 1:
        return "no_oracle"
    malformed = {first[name] for name in _robot()["classification"]["malformed"]}
    return "weak_oracle" if len(malformed) == 1 else "strong_oracle"
