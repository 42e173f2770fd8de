"""The nouns every layer shares: services and endpoints in, findings out.

Facts are deliberately *not* modelled here: they are plain JSON dictionaries
(shape documented by the shipped JSON Schema, ``reports/schema``) so that a
stored run can be re-judged without rebuilding objects.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

PILLARS: tuple[str, ...] = ("tls", "certificate", "http", "dns", "mail")


class Status(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    INFO = "info"
    NOT_APPLICABLE = "not_applicable"
    ERROR = "error"
    WAIVED = "waived"


PROBLEMS = ("fail", "warn", "error")  # the statuses that ask for work: what a diff and a problem's age follow


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class Level(StrEnum):
    REQUIRED = "required"
    RECOMMENDED = "recommended"
    OPTIONAL = "optional"


class EndpointKind(StrEnum):
    WEB = "web"
    API = "api"
    REDIRECT = "redirect"


DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True)
class Endpoint:
    """One URL of a service. ``target`` is its canonical, port-elided name."""

    scheme: str
    host: str
    port: int
    path: str = "/"
    kind: EndpointKind = EndpointKind.WEB

    @classmethod
    def from_url(cls, url: str, kind: EndpointKind = EndpointKind.WEB) -> Endpoint:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port or DEFAULT_PORTS[scheme]
        return cls(scheme, host, port, parts.path or "/", kind)

    @property
    def target(self) -> str:
        port = "" if DEFAULT_PORTS.get(self.scheme) == self.port else f":{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}{port}{self.path}"


@dataclass(frozen=True)
class SourceRef:
    """Where an inventory entry was written, so errors and SARIF can point at it."""

    file: str
    line: int | None = None


@dataclass
class Service:
    id: str
    name: str
    organisation: str = ""
    tags: list[str] = field(default_factory=list)
    owner: str = ""
    endpoints: list[Endpoint] = field(default_factory=list)
    mail_domains: list[str] = field(default_factory=list)
    source: SourceRef | None = None
    dkim_selectors: dict[str, list[str]] = field(default_factory=dict)  # domain (or "*": all) -> selectors

    def hosts(self) -> list[str]:
        return sorted({e.host for e in self.endpoints})


@dataclass
class Finding:
    """One verdict of one check on one target."""

    check: str
    pillar: str
    level: Level
    severity: Severity
    status: Status
    target: str
    message: str
    evidence: dict[str, Any] = field(default_factory=dict)
    key: str = ""  # what distinguishes several findings of one check on one target
    points: float | None = None
    weight: float = 0.0
    message_nl: str | None = None
    waiver: dict[str, Any] | None = None
    subject: str = ""  # the endpoint or mail domain judged (target may name one MX of it)
    code: str | None = None  # the message's code in the check's catalogue (checks/catalogue.py)
    params: dict[str, Any] = field(default_factory=dict)  # its parameters, localised phrases as {lang: text}

    @property
    def id(self) -> str:
        # A target several subjects share (one MX for two mail domains of a service) is told apart by subject.
        shared = self.subject and self.subject != self.target
        return finding_id(self.check, self.target, f"{self.subject}\x1e{self.key}" if shared else self.key)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "check": self.check,
            "pillar": self.pillar,
            "level": str(self.level),
            "severity": str(self.severity),
            "status": str(self.status),
            "target": self.target,
            "message": self.message,
            "evidence": self.evidence,
        }
        if self.message_nl:
            out["message_nl"] = self.message_nl
        if self.points is not None:
            out["points"] = self.points
            out["weight"] = self.weight
        if self.waiver:
            out["waiver"] = self.waiver
        if self.subject and self.subject != self.target:
            out["subject"] = self.subject
        if self.code:
            out["code"] = self.code
            if self.params:
                out["params"] = self.params
        return out


def finding_id(check: str, target: str, key: str = "") -> str:
    """Stable fingerprint: the same problem on the same target keeps its id across runs."""
    digest = hashlib.sha256(f"{check}\x1f{target}\x1f{key}".encode()).hexdigest()
    return digest[:20]


class InputError(Exception):
    """Bad user input (inventory, policy, flag): reported in one line, exit code 2.

    Both parts are kept to one short line whatever input they echo (a key of a megabyte,
    a newline in a quoted TOML key), so the error stays readable and a log stays clean.
    """

    def __init__(self, where: str, message: str):
        where, message = one_line(where, WHERE_LIMIT), one_line(message, MESSAGE_LIMIT)
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


WHERE_LIMIT = 200  # file, line and key path of an InputError
MESSAGE_LIMIT = 300
SHOWN_LIMIT = 120  # one value of the input, echoed


def one_line(text: str, limit: int) -> str:
    """`text` without line breaks or control characters (escaped), cut to `limit` characters."""
    text = text[:limit + 1]
    if not text.isprintable():
        text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def shown(value: Any) -> str:
    """A value of the user's input as an error message quotes it: repr, cut to SHOWN_LIMIT."""
    return one_line(repr(value[:SHOWN_LIMIT] if isinstance(value, str) else value), SHOWN_LIMIT)
