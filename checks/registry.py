"""One shape for every check, one place to find them.

A check is a pure function of facts. It declares what it judges (pillar, level,
severity, texts in English and Dutch, references) and which policy thresholds it
reads, so a policy can be validated against the checks that exist.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from checks.catalogue import catalogue
from scanner.model import PILLARS, EndpointKind, Level, Severity, Status

Subject = Literal["endpoint", "mail_domain"]
ALL_KINDS = frozenset(EndpointKind)
BROWSER_KINDS = frozenset({EndpointKind.WEB})

BUILTIN_MODULES = (
    "checks.tls.protocol", "checks.tls.behaviour", "checks.tls.attacks", "checks.certificate",
    "checks.http.enforcement", "checks.http.hsts", "checks.http.csp", "checks.http.headers",
    "checks.http.cookies", "checks.http.page", "checks.http.security_txt", "checks.http.parity",
    "checks.dns", "checks.mail.spf", "checks.mail.dmarc", "checks.mail.dkim", "checks.mail.mx",
    "checks.mail.mta_sts",
)
ENTRY_POINT_GROUP = "bolwerk.checks"


@dataclass(frozen=True)
class Outcome:
    """What a check function returns; the engine turns it into a Finding.

    `code` names the message in the check's catalogue (checks/catalogue.py explains the
    lookup); `params` fill its fields. The engine renders the message in every language.
    """

    status: Status
    code: str
    params: Mapping[str, Any] = field(default_factory=dict)
    evidence: Mapping[str, Any] = field(default_factory=dict)
    key: str = ""
    severity: Severity | None = None  # overrides the check's default severity
    target: str | None = None  # overrides the subject's target (e.g. one MX host)


def _outcome(status: Status, code: str, evidence: Mapping[str, Any] | None, key: str, severity: Severity | None,
             target: str | None, params: dict[str, Any]) -> Outcome:
    return Outcome(status, code, params, evidence or {}, key, severity, target)


CODE = re.compile(r"(?:[a-z]+:)?[a-z][a-z0-9_]*")  # a message code, optionally "pillar:"-qualified


def passed(code: str, *, evidence: Mapping[str, Any] | None = None, key: str = "", severity: Severity | None = None,
           target: str | None = None, **params: Any) -> Outcome:
    return _outcome(Status.PASS, code, evidence, key, severity, target, params)


def warned(code: str, *, evidence: Mapping[str, Any] | None = None, key: str = "", severity: Severity | None = None,
           target: str | None = None, **params: Any) -> Outcome:
    return _outcome(Status.WARN, code, evidence, key, severity, target, params)


def failed(code: str, *, evidence: Mapping[str, Any] | None = None, key: str = "", severity: Severity | None = None,
           target: str | None = None, **params: Any) -> Outcome:
    return _outcome(Status.FAIL, code, evidence, key, severity, target, params)


def info(code: str, *, evidence: Mapping[str, Any] | None = None, key: str = "", severity: Severity | None = None,
         target: str | None = None, **params: Any) -> Outcome:
    return _outcome(Status.INFO, code, evidence, key, severity, target, params)


def not_applicable(code: str, *, evidence: Mapping[str, Any] | None = None, key: str = "",
                   severity: Severity | None = None, target: str | None = None, **params: Any) -> Outcome:
    return _outcome(Status.NOT_APPLICABLE, code, evidence, key, severity, target, params)


def error(code: str, *, evidence: Mapping[str, Any] | None = None, key: str = "", severity: Severity | None = None,
          target: str | None = None, **params: Any) -> Outcome:
    return _outcome(Status.ERROR, code, evidence, key, severity, target, params)


class NotMeasured(Exception):
    """Raised by a check when a fact it needs is null: becomes an `error` outcome.

    Like an outcome it carries a message code and parameters (`reason` for a probe's own
    words, which are passed on as written).
    """

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        if not CODE.fullmatch(code):
            raise ValueError(f"not a message code: {code!r} (a probe's own words: NotMeasured.because)")
        self.code, self.params = code, params

    @classmethod
    def because(cls, reason: str | None, otherwise: str = "") -> NotMeasured:
        """Not measured for a reason a probe wrote (facts carry it in English); when the probe
        wrote none, for the message code `otherwise`."""
        if reason or not otherwise:
            return cls("common:probe_reason", reason=reason)
        return cls(otherwise)


@dataclass(frozen=True)
class CheckContext:
    """Everything a check may read. No sockets in here, by construction."""

    target: str
    facts: Mapping[str, Any]
    now: datetime
    thresholds: Mapping[str, Any]
    kind: EndpointKind | None = None
    subject: Mapping[str, Any] = field(default_factory=dict)
    estate: Mapping[str, Any] = field(default_factory=dict)  # facts of the whole run a check may need (judge.estate_view)

    def threshold(self, name: str) -> Any:
        return self.thresholds[name]

    def section(self, name: str) -> Mapping[str, Any]:
        """A fact section, or NotMeasured with the probe's reason."""
        sec = self.facts.get(name)
        if sec is None:
            raise NotMeasured("common:no_section", section=name)
        if sec.get("error"):
            raise NotMeasured("common:probe_error", section=name, reason=sec["error"])
        return sec

    def fact(self, section: str, *path: str) -> Any:
        """A single fact; NotMeasured when it (or its section) is null."""
        value: Any = self.section(section)
        for key in path:
            value = value.get(key) if isinstance(value, Mapping) else None
            if value is None:
                raise NotMeasured("common:fact_missing", fact=f"{section}.{'.'.join(path)}")
        return value

    def answer(self, section: str, key: str) -> Any:
        """A fact whose null or empty value is itself an answer ("no DHE suite", "no cookies").

        The probe writes such a key whenever it measured; a missing key (an older or partial
        section) is NotMeasured, so an absent fact never reads as "none found".
        """
        sec = self.section(section)
        if key not in sec:
            raise NotMeasured("common:fact_missing", fact=f"{section}.{key}")
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
    messages: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # code -> {lang: template}

    def describe(self, lang: str = "en") -> str:
        return self.title.get(lang) or self.title["en"]

    def template(self, code: str) -> Mapping[str, str]:
        """The bilingual template of a message code, as this check sees it (checks/catalogue.py)."""
        return catalogue().template(self.id, self.pillar, code, self.messages)


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
    subject: Subject = "endpoint",
    kinds: Iterable[EndpointKind] = ALL_KINDS,
    schemes: Iterable[str] = ("https", "http"),
    thresholds: Mapping[str, Any] | None = None,
    controls: Iterable[str] = (),
    title: Mapping[str, str] | None = None,
    remediation: Mapping[str, str] | None = None,
    references: Iterable[str] | None = None,
    messages: Mapping[str, Mapping[str, str]] | None = None,
) -> Callable[[CheckFunc], CheckFunc]:
    """Declare a check. Modules in BUILTIN_MODULES and entry points use this.

    Built-in checks take their texts (title, remediation, references, messages) from the
    catalogue, `checks/texts/<pillar>.toml`; a third-party check that ships no catalogue
    passes them here, in English and Dutch.
    """
    texts = catalogue().checks.get(id)

    def wrap(func: CheckFunc) -> CheckFunc:
        _BUILTIN.append(
            Check(
                id=id,
                pillar=pillar,
                level=Level(level),
                severity=Severity(severity),
                title=dict(title if title is not None else texts.title if texts else {}),
                remediation=dict(remediation if remediation is not None else texts.remediation if texts else {}),
                references=tuple(references if references is not None else texts.references if texts else ()),
                func=func,
                subject=subject,
                kinds=frozenset(EndpointKind(k) for k in kinds),
                schemes=frozenset(schemes),
                thresholds=dict(thresholds or {}),
                controls=tuple(controls),
                messages=dict(messages if messages is not None else texts.messages if texts else {}),
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
