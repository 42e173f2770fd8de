"""One shape for every check, one place to find them.

A check is a pure function of facts. It declares what it judges (pillar, level,
severity, texts in English and Dutch, references) and which policy thresholds it
reads, so a policy can be validated against the checks that exist.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from scanner.model import PILLARS, EndpointKind, Level, Severity, Status

Subject = Literal["endpoint", "mail_domain"]
ALL_KINDS = frozenset(EndpointKind)
BROWSER_KINDS = frozenset({EndpointKind.WEB})

BUILTIN_MODULES = ("checks.tls", "checks.certificate", "checks.http", "checks.dns", "checks.mail")
ENTRY_POINT_GROUP = "bolwerk.checks"


@dataclass(frozen=True)
class Outcome:
    """What a check function returns; the engine turns it into a Finding."""

    status: Status
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    key: str = ""
    severity: Severity | None = None  # overrides the check's default severity
    message_nl: str | None = None
    target: str | None = None  # overrides the subject's target (e.g. one MX host)


def passed(message: str, **kw: Any) -> Outcome:
    return Outcome(Status.PASS, message, **kw)


def warned(message: str, **kw: Any) -> Outcome:
    return Outcome(Status.WARN, message, **kw)


def failed(message: str, **kw: Any) -> Outcome:
    return Outcome(Status.FAIL, message, **kw)


def info(message: str, **kw: Any) -> Outcome:
    return Outcome(Status.INFO, message, **kw)


def not_applicable(message: str, **kw: Any) -> Outcome:
    return Outcome(Status.NOT_APPLICABLE, message, **kw)


def error(message: str, **kw: Any) -> Outcome:
    return Outcome(Status.ERROR, message, **kw)


class NotMeasured(Exception):
    """Raised by a check when a fact it needs is null: becomes an `error` outcome."""


@dataclass(frozen=True)
class CheckContext:
    """Everything a check may read. No sockets in here, by construction."""

    target: str
    facts: Mapping[str, Any]
    now: datetime
    thresholds: Mapping[str, Any]
    kind: EndpointKind | None = None
    subject: Mapping[str, Any] = field(default_factory=dict)

    def threshold(self, name: str) -> Any:
        return self.thresholds[name]

    def section(self, name: str) -> Mapping[str, Any]:
        """A fact section, or NotMeasured with the probe's reason."""
        sec = self.facts.get(name)
        if sec is None:
            raise NotMeasured(f"no {name} facts were collected")
        if sec.get("error"):
            raise NotMeasured(f"{name} probe: {sec['error']}")
        return sec

    def fact(self, section: str, *path: str) -> Any:
        """A single fact; NotMeasured when it (or its section) is null."""
        value: Any = self.section(section)
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
            if value is None:
                raise NotMeasured(f"{section}.{'.'.join(path)} was not measured")
        return value

    def answer(self, section: str, key: str) -> Any:
        """A fact whose null or empty value is itself an answer ("no DHE suite", "no cookies").

        The probe writes such a key whenever it measured; a missing key (an older or partial
        section) is NotMeasured, so an absent fact never reads as "none found".
        """
        sec = self.section(section)
        if key not in sec:
            raise NotMeasured(f"{section}.{key} was not measured")
        return sec[key]


CheckFunc = Callable[[CheckContext], "Outcome | list[Outcome]"]


@dataclass(frozen=True)
class Check:
    id: str
    pillar: str
    level: Level
    severity: Severity
    title: Mapping[str, str]
    remediation: Mapping[str, str]
    references: tuple[str, ...]
    func: CheckFunc
    subject: Subject = "endpoint"
    kinds: frozenset[EndpointKind] = ALL_KINDS
    schemes: frozenset[str] = frozenset({"https", "http"})
    thresholds: Mapping[str, Any] = field(default_factory=dict)
    controls: tuple[str, ...] = ()  # framework controls evidenced (NIST CSF 2.0 ids, ...)

    def describe(self, lang: str = "en") -> str:
        return self.title.get(lang) or self.title["en"]


class Registry:
    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def add(self, chk: Check) -> None:
        if chk.id in self._checks:
            raise ValueError(f"duplicate check id {chk.id}")
        if chk.pillar not in PILLARS:
            raise ValueError(f"{chk.id}: unknown pillar {chk.pillar}")
        for texts, what in ((chk.title, "title"), (chk.remediation, "remediation")):
            if not texts.get("en") or not texts.get("nl"):
                raise ValueError(f"{chk.id}: {what} needs both 'en' and 'nl'")
        self._checks[chk.id] = chk

    def __iter__(self):
        return iter(sorted(self._checks.values(), key=lambda c: (PILLARS.index(c.pillar), c.id)))

    def __contains__(self, check_id: str) -> bool:
        return check_id in self._checks

    def __getitem__(self, check_id: str) -> Check:
        return self._checks[check_id]

    def __len__(self) -> int:
        return len(self._checks)

    def thresholds(self) -> dict[str, Any]:
        """Every threshold name any check reads, with the checks' defaults."""
        out: dict[str, Any] = {}
        for chk in self:
            out.update(chk.thresholds)
        return out


_BUILTIN: list[Check] = []


def check(
    id: str,
    *,
    pillar: str,
    level: str,
    severity: str,
    title: Mapping[str, str],
    remediation: Mapping[str, str],
    references: Iterable[str] = (),
    subject: Subject = "endpoint",
    kinds: Iterable[EndpointKind] = ALL_KINDS,
    schemes: Iterable[str] = ("https", "http"),
    thresholds: Mapping[str, Any] | None = None,
    controls: Iterable[str] = (),
) -> Callable[[CheckFunc], CheckFunc]:
    """Declare a check. Modules in BUILTIN_MODULES and entry points use this."""

    def wrap(func: CheckFunc) -> CheckFunc:
        _BUILTIN.append(
            Check(
                id=id,
                pillar=pillar,
                level=Level(level),
                severity=Severity(severity),
                title=dict(title),
                remediation=dict(remediation),
                references=tuple(references),
                func=func,
                subject=subject,
                kinds=frozenset(EndpointKind(k) for k in kinds),
                schemes=frozenset(schemes),
                thresholds=dict(thresholds or {}),
                controls=tuple(controls),
            )
        )
        return func

    return wrap


_DEFAULT: Registry | None = None


def default_registry() -> Registry:
    """Built-in checks plus every module registered under the `bolwerk.checks` entry points."""
    global _DEFAULT
    if _DEFAULT is None:
        for name in BUILTIN_MODULES:
            importlib.import_module(name)
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            ep.load()
        from checks.controls import control_map

        controls = control_map()
        reg = Registry()
        for chk in _BUILTIN:  # framework references from checks/data/controls.toml join the check's own
            reg.add(replace(chk, controls=controls.for_check(chk.id, chk.controls)))
        _DEFAULT = reg
    return _DEFAULT
