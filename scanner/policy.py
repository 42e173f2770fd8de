"""Policies: versioned TOML data that say which checks count, how much, and what caps a grade.

A policy is pinned by ``name@version`` (shipped in ``scanner/policies``) or given
as a file. ``extends`` inherits from another policy, pinned (``name@version``) or a file
path relative to the extending file: tables merge key by key, caps and waivers are
appended (a child cap on the same check replaces the parent's). Keys under ``[checks]``
and a cap's ``check`` are check ids or globs (``"mail.*"``); exact ids win over globs,
later globs over earlier ones. Every unknown key, check or threshold, and every value of
the wrong type, is an `InputError` naming the file, the line and the key path.

File layout (see README, "Writing a policy")::

    [policy]      name, version, title, description, extends
    [scoring]     warn_fraction, required_fail_cap, level_weights, pillar_weights
    [grades]      "A+" = 95, A = 85 ... minimum score per grade
    [[caps]]      check, status, grade, reason (a string, or { en = "...", nl = "..." }), code
    [thresholds]  values the checks read (`bolwerk checks --thresholds`)
    [checks."id"] level, weight, enabled
    [[waivers]]   check, target, reason, owner, expires   (comply or explain)
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from fnmatch import fnmatchcase
from importlib import resources
from pathlib import Path
from typing import Any

from checks.registry import Check, Registry
from scanner.inputfiles import POLICY_LIMIT
from scanner.model import PILLARS, InputError, Level, SourceRef, Status, shown
from scanner.tomlfile import kind_of, load_toml, where

POLICY_DIR = resources.files("scanner").joinpath("policies")  # package data: a folder once installed
DEFAULT_POLICY = "bolwerk-baseline"
GRADES: tuple[str, ...] = ("A+", "A", "B", "C", "D", "E", "F")


def worse_than(grade: str, other: str) -> bool:
    """Whether `grade` ranks below `other` (F is the worst)."""
    return GRADES.index(grade) > GRADES.index(other)


def worse(a: str, b: str) -> str:
    """The worse of two grades."""
    return b if worse_than(b, a) else a
INCOMPLETE = "incomplete"

_SECTIONS = {"policy", "scoring", "grades", "caps", "thresholds", "checks", "waivers"}
_POLICY_KEYS = {"name", "version", "title", "description", "extends"}
_SCORING_KEYS = {"warn_fraction", "level_weights", "required_fail_cap", "pillar_weights"}
_CAP_KEYS = {"check", "status", "grade", "reason", "code"}
_CHECK_KEYS = {"level", "weight", "enabled"}
_WAIVER_KEYS = {"check", "target", "reason", "owner", "expires"}
_LEVELS = tuple(lv.value for lv in Level)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,79}$")
_GLOB = re.compile(r"[*?\[]")

DEFAULT_LEVEL_WEIGHTS = {"required": 3.0, "recommended": 1.0, "optional": 0.0}


@dataclass(frozen=True)
class CheckSetting:
    enabled: bool
    level: Level
    weight: float


LANGUAGES = ("en", "nl")  # every text a policy shows a reader exists in both


@dataclass(frozen=True)
class Cap:
    """A grade cap: these statuses of this check (or glob) hold the grade at `grade` at best."""

    check: str  # check id or glob
    statuses: frozenset[Status]
    grade: str
    reason: dict[str, str]  # per language, LANGUAGES
    code: str  # stable reason code: the policy's `code`, else "cap:<check>"

    def matches(self, check_id: str) -> bool:
        return _glob(check_id, self.check)


# Scoring asks every cap about every finding of every service: the same few hundred check ids
# against the same few globs, so each answer is kept.
_glob = functools.lru_cache(maxsize=8192)(fnmatchcase)


@dataclass(frozen=True)
class Waiver:
    """Comply or explain: a known problem accepted for a while, by someone, for a reason."""

    check: str  # check id or glob
    target: str  # exact target or glob
    reason: str
    owner: str
    expires: date
    source: SourceRef | None = None

    def matches(self, check_id: str, target: str) -> bool:
        return fnmatchcase(check_id, self.check) and fnmatchcase(target, self.target)

    def active(self, at: datetime) -> bool:
        return at.date() <= self.expires

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {"check": self.check, "target": self.target, "reason": self.reason,
                               "owner": self.owner, "expires": self.expires.isoformat()}
        if self.source:
            out["source"] = {"file": self.source.file, "line": self.source.line}
        return out


@dataclass
class Policy:
    name: str
    version: str
    title: str
    source: str
    warn_fraction: float
    level_weights: dict[str, float]
    required_fail_cap: float
    pillar_weights: dict[str, float]
    grades: list[tuple[str, float]]
    caps: list[Cap]
    thresholds: dict[str, Any]
    settings: dict[str, CheckSetting] = field(default_factory=dict)
    waivers: list[Waiver] = field(default_factory=list)
    description: str = ""
    chain: list[str] = field(default_factory=list)  # this policy and its ancestors, as name@version
    pinned: bool = True  # False when given as a bare shipped name (resolved to its newest version)
    shipped: bool = False  # True when the policy file ships with Bolwerk

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def setting(self, chk: Check) -> CheckSetting:
        known = self.settings.get(chk.id)
        if known is not None:
            return known
        return CheckSetting(True, chk.level, self.level_weights[str(chk.level)])

    def grade_for(self, score: float) -> str:
        for grade, minimum in self.grades:
            if score >= minimum:
                return grade
        return GRADES[-1]

    def to_data(self) -> dict[str, Any]:
        """The policy as resolved (inheritance applied), as plain JSON: what a run stores of it,
        so a stored run is reported and resumed under exactly the policy it was judged under."""
        return {
            "name": self.name, "version": self.version, "title": self.title, "description": self.description,
            "chain": list(self.chain), "source": self.source, "pinned": self.pinned, "shipped": self.shipped,
            "scoring": {"warn_fraction": self.warn_fraction, "required_fail_cap": self.required_fail_cap,
                        "level_weights": dict(self.level_weights), "pillar_weights": dict(self.pillar_weights)},
            "grades": [[grade, minimum] for grade, minimum in self.grades],
            "caps": [{"check": c.check, "status": sorted(str(s) for s in c.statuses), "grade": c.grade,
                      "reason": dict(c.reason), "code": c.code} for c in self.caps],
            "thresholds": dict(self.thresholds),
            "checks": {cid: {"enabled": s.enabled, "level": str(s.level), "weight": s.weight}
                       for cid, s in sorted(self.settings.items())},
            "waivers": [w.info() for w in self.waivers],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any], registry: Registry) -> Policy:
        """A policy from `to_data()`; thresholds of checks added since then take their defaults."""
        scoring = data["scoring"]
        return cls(
            name=data["name"], version=data["version"], title=data["title"], description=data["description"],
            source=data["source"], chain=list(data["chain"]), pinned=data["pinned"], shipped=data["shipped"],
            warn_fraction=scoring["warn_fraction"], required_fail_cap=scoring["required_fail_cap"],
            level_weights=dict(scoring["level_weights"]), pillar_weights=dict(scoring["pillar_weights"]),
            grades=[(grade, minimum) for grade, minimum in data["grades"]],
            caps=[Cap(c["check"], frozenset(Status(s) for s in c["status"]), c["grade"], dict(c["reason"]), c["code"])
                  for c in data["caps"]],
            thresholds=registry.thresholds() | data["thresholds"],
            settings={cid: CheckSetting(s["enabled"], Level(s["level"]), s["weight"]) for cid, s in data["checks"].items()},
            waivers=[Waiver(w["check"], w["target"], w["reason"], w["owner"], date.fromisoformat(w["expires"]),
                            SourceRef(**w["source"]) if w.get("source") else None) for w in data["waivers"]],
        )

    def digest(self) -> str:
        """sha256 of what the policy judges by: the same rules give the same digest, wherever the
        file lies and however it was named (its path and waivers' line numbers left aside)."""
        content = self.to_data()
        for key in ("source", "pinned", "shipped"):
            del content[key]
        for waiver in content["waivers"]:
            waiver.pop("source", None)
        canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


# --------------------------------------------------------------------------- finding files

def shipped_policies() -> dict[str, Path]:
    """name@version -> file, for every policy shipped with Bolwerk."""
    out = {}
    for path in sorted((p for p in POLICY_DIR.iterdir() if p.name.endswith(".toml")), key=lambda p: p.name):
        data, _ = load_toml(path, "policy", POLICY_LIMIT)
        meta = data.get("policy", {})
        out[f"{meta.get('name')}@{meta.get('version')}"] = path
    return out


def _version_key(ref: str) -> list[Any]:
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"[.-]", ref.split("@", 1)[1])]


def _find(ref: str, relative_to: Path | None = None) -> tuple[Path, bool, bool]:
    """A policy reference -> (file, pinned, shipped)."""
    if ref.endswith(".toml") or "/" in ref or "\\" in ref:
        candidate = Path(ref)
        if relative_to is not None and not candidate.is_absolute():
            candidate = relative_to.parent / candidate
        if not candidate.is_file():
            raise InputError(ref, "policy file not found")
        return candidate, True, False
    shipped = shipped_policies()
    if ref in shipped:
        return shipped[ref], True, True
    named = sorted((k for k in shipped if k.split("@")[0] == ref), key=_version_key)
    if named and "@" not in ref:  # an unpinned name takes the newest shipped version
        return shipped[named[-1]], False, True
    if Path(ref).is_file():
        return Path(ref), True, False
    known = ", ".join(sorted(shipped))
    raise InputError(ref, f"unknown policy (shipped: {known}; or give a .toml file)")


# --------------------------------------------------------------------------- line numbers

_KEY = r'(?:"(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+)'
_DOTTED = re.compile(rf"{_KEY}(?:\s*\.\s*{_KEY})*")
_ARRAY_HEADER = re.compile(rf"^\s*\[\[\s*({_DOTTED.pattern})\s*\]\]")
_TABLE_HEADER = re.compile(rf"^\s*\[\s*({_DOTTED.pattern})\s*\]")
_KEY_VALUE = re.compile(rf"^\s*({_DOTTED.pattern})\s*=")


def _split_key(dotted: str) -> list[str]:
    parts = re.findall(_KEY, dotted)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def locate(text: str, path: tuple[Any, ...]) -> int | None:
    """Line of the TOML key at ``path`` (tomllib keeps no positions), or of its nearest parent.

    ``path`` holds keys and, for arrays of tables, the entry's index: ("caps", 2, "grade").
    """
    best: tuple[int, int] | None = None  # (matched depth, line)
    header: list[Any] = []
    counts: dict[tuple[str, ...], int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        full: list[Any] | None = None
        if m := _ARRAY_HEADER.match(line):
            keys = tuple(_split_key(m.group(1)))
            index = counts.get(keys, 0)
            counts[keys] = index + 1
            header = [*keys, index]
            full = header
        elif m := _TABLE_HEADER.match(line):
            header = _split_key(m.group(1))
            full = header
        elif m := _KEY_VALUE.match(line):
            full = header + _split_key(m.group(1))
        if full is None:
            continue
        depth = len(full)
        if tuple(full) == tuple(path):
            return number
        if tuple(path[:depth]) == tuple(full) and (best is None or depth > best[0]):
            best = (depth, number)
    return best[1] if best else None


def keypath(path: tuple[Any, ...]) -> str:
    """("checks", "http.hsts", "level") -> checks."http.hsts".level; ("caps", 2) -> caps[2]."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            text = f'"{part}"' if not re.fullmatch(r"[A-Za-z0-9_-]+", part) else part
            out += f".{text}" if out else text
    return out


# --------------------------------------------------------------------------- one file

@dataclass
class _File:
    """One policy file being validated: every error names it, the line and the key path."""

    path: Path
    text: str
    data: dict[str, Any]

    def error(self, path: tuple[Any, ...], message: str) -> InputError:
        return InputError(where(self.path, keypath(path), locate(self.text, path)), message)

    def table(self, path: tuple[Any, ...], value: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(path, f"expected a table, got {kind_of(value)}")
        return value

    def keys(self, path: tuple[Any, ...], value: dict[str, Any], allowed: set[str]) -> None:
        for key in value:
            if key not in allowed:
                raise self.error((*path, key), f"unknown key (expected one of: {', '.join(sorted(allowed))})")

    def string(self, path: tuple[Any, ...], value: Any, required: bool = False) -> str:
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.error(path, "expected a non-empty string" if required else f"expected a string, got {kind_of(value)}")
        return value

    def number(self, path: tuple[Any, ...], value: Any, low: float = 0.0, high: float | None = None) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(path, f"expected a number, got {kind_of(value)}")
        if value < low or (high is not None and value > high):
            span = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
            raise self.error(path, f"must be {span}, got {shown(value)}")
        return float(value)

    def tables(self, name: str) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
        entries = self.data.get(name, [])
        if not isinstance(entries, list):
            raise self.error((name,), f"expected [[{name}]] entries, got {kind_of(entries)}")
        for i, entry in enumerate(entries):
            yield (name, i), self.table((name, i), entry)


def _matching(pattern: str, registry: Registry) -> list[str]:
    if _GLOB.search(pattern):
        return [c.id for c in registry if fnmatchcase(c.id, pattern)]
    return [pattern] if pattern in registry else []


def _check_ref(f: _File, path: tuple[Any, ...], value: Any, registry: Registry) -> str:
    pattern = f.string(path, value, required=True)
    if not _matching(pattern, registry):
        what = "matches no check" if _GLOB.search(pattern) else "unknown check"
        raise f.error(path, f"{what} {shown(pattern)} (see `bolwerk checks`)")
    return pattern


def _validate(f: _File, registry: Registry, known_thresholds: dict[str, Any]) -> dict[str, Any]:
    """Check one file on its own; return its thresholds flattened to dotted names."""
    f.keys((), f.data, _SECTIONS)
    meta = f.table(("policy",), f.data.get("policy", {}))
    f.keys(("policy",), meta, _POLICY_KEYS)
    for key in ("name", "version"):
        if key not in meta:
            raise f.error(("policy",), f"policy.{key} is required")
        value = f.string(("policy", key), meta[key], required=True)
        if not _NAME.match(value):
            raise f.error(("policy", key), "use letters, digits, '.', '_', '+' or '-' (no '@' or spaces)")
    for key in ("title", "description", "extends"):
        if key in meta:
            f.string(("policy", key), meta[key], required=key == "extends")

    scoring = f.table(("scoring",), f.data.get("scoring", {}))
    f.keys(("scoring",), scoring, _SCORING_KEYS)
    if "warn_fraction" in scoring:
        f.number(("scoring", "warn_fraction"), scoring["warn_fraction"], 0, 1)
    if "required_fail_cap" in scoring:
        f.number(("scoring", "required_fail_cap"), scoring["required_fail_cap"], 0, 100)
    for key, allowed in (("level_weights", set(_LEVELS)), ("pillar_weights", set(PILLARS))):
        weights = f.table(("scoring", key), scoring.get(key, {}))
        f.keys(("scoring", key), weights, allowed)
        for name, weight in weights.items():
            f.number(("scoring", key, name), weight, 0, 1000)

    grades = f.table(("grades",), f.data.get("grades", {}))
    f.keys(("grades",), grades, set(GRADES))
    for grade, minimum in grades.items():
        f.number(("grades", grade), minimum, 0, 100)

    for path, cap in f.tables("caps"):
        f.keys(path, cap, _CAP_KEYS)
        for key in ("check", "grade"):
            if key not in cap:
                raise f.error(path, f"{key} is required (a cap names a check, the statuses that trigger it and a grade)")
        _check_ref(f, (*path, "check"), cap["check"], registry)
        if cap["grade"] not in GRADES:
            raise f.error((*path, "grade"), f"must be one of {', '.join(GRADES)}, got {shown(cap['grade'])}")
        statuses = cap.get("status", ["fail"])
        if not isinstance(statuses, list) or not statuses:
            raise f.error((*path, "status"), "expected a non-empty array such as [\"fail\"]")
        for status in statuses:
            if status not in tuple(s.value for s in Status):  # a tuple: a status may be any TOML value
                raise f.error((*path, "status"), f"unknown status {shown(status)} (one of: {', '.join(s.value for s in Status)})")
        if "reason" in cap:
            _reason(f, (*path, "reason"), cap["reason"])
        if "code" in cap and not _NAME.match(f.string((*path, "code"), cap["code"], required=True)):
            raise f.error((*path, "code"), "use letters, digits, '.', '_', '+' or '-'")

    checks = f.table(("checks",), f.data.get("checks", {}))
    for pattern, setting in checks.items():
        path = ("checks", pattern)
        if not _matching(pattern, registry):
            what = "matches no check" if _GLOB.search(pattern) else "unknown check"
            raise f.error(path, f"{what} (see `bolwerk checks`)")
        f.keys(path, f.table(path, setting), _CHECK_KEYS)
        if "level" in setting and setting["level"] not in _LEVELS:
            raise f.error((*path, "level"), f"must be one of {', '.join(_LEVELS)}, got {shown(setting['level'])}")
        if "weight" in setting:
            f.number((*path, "weight"), setting["weight"], 0, 1000)
        if "enabled" in setting and not isinstance(setting["enabled"], bool):
            raise f.error((*path, "enabled"), f"expected true or false, got {kind_of(setting['enabled'])}")

    for path, waiver in f.tables("waivers"):
        f.keys(path, waiver, _WAIVER_KEYS)
        for key in sorted(_WAIVER_KEYS):
            if key not in waiver:
                raise f.error(path, f"{key} is required (comply or explain: check, target, reason, owner, expires)")
        _check_ref(f, (*path, "check"), waiver["check"], registry)
        for key in ("target", "reason", "owner"):
            f.string((*path, key), waiver[key], required=True)
        if not isinstance(waiver["expires"], date):
            raise f.error((*path, "expires"), f"expected a date such as 2027-03-31, got {kind_of(waiver['expires'])}")

    thresholds: dict[str, Any] = {}
    _thresholds(f, ("thresholds",), f.table(("thresholds",), f.data.get("thresholds", {})), known_thresholds, thresholds)
    return thresholds


def _reason(f: _File, path: tuple[Any, ...], value: Any) -> None:
    """A reader-facing text: one string for every language, or a table with each language."""
    if isinstance(value, str):  # an empty one says nothing: the check id stands in
        return
    table = f.table(path, value)
    f.keys(path, table, set(LANGUAGES))
    for lang in LANGUAGES:
        if lang not in table:
            raise f.error(path, f"{lang} is required (give the reason in {' and '.join(LANGUAGES)})")
        f.string((*path, lang), table[lang], required=True)


def _thresholds(f: _File, path: tuple[Any, ...], table: dict[str, Any], known: dict[str, Any],
                out: dict[str, Any]) -> None:
    """Thresholds by dotted name; `tls.x = 1` (a nested table in TOML) means the name "tls.x"."""
    prefix = ".".join(str(p) for p in path[1:])
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else key
        if name in known:
            out[name] = _threshold_value(f, (*path, key), value, known[name])
        elif isinstance(value, dict) and any(k.startswith(name + ".") for k in known):
            _thresholds(f, (*path, key), value, known, out)
        else:
            raise f.error((*path, key), "unknown threshold (see `bolwerk checks --thresholds`)")


def _threshold_value(f: _File, path: tuple[Any, ...], value: Any, default: Any) -> Any:
    """A threshold must have the type of the default its check declares."""
    def mismatch(expected: str) -> InputError:
        return f.error(path, f"expected {expected} (the default is {default!r}), got {kind_of(value)}")

    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise mismatch("true or false")
    elif isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise mismatch("a whole number")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise mismatch("a number")
        value = float(value)
    elif isinstance(default, str):
        if not isinstance(value, str):
            raise mismatch("a string")
    elif isinstance(default, list):
        if not isinstance(value, list):
            raise mismatch("an array")
        types = {type(v) for v in default}
        if types and any(type(v) not in types for v in value):
            raise mismatch(f"an array of {', '.join(sorted(t.__name__ for t in types))}")
    elif not isinstance(value, type(default)):
        raise mismatch(type(default).__name__)
    return value


# --------------------------------------------------------------------------- inheritance

def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in child.items():
        if key == "caps" and isinstance(out.get(key), list):
            replaced = {c.get("check") for c in value}
            out[key] = [c for c in out[key] if c.get("check") not in replaced] + value
        elif key == "waivers" and isinstance(out.get(key), list):
            out[key] = out[key] + value
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass
class _Loaded:
    data: dict[str, Any]
    thresholds: dict[str, Any]
    leaf: _File
    chain: list[str]
    waivers: list[Waiver]


def _load_chain(ref: str, registry: Registry, known: dict[str, Any], relative_to: Path | None = None,
                seen: tuple[str, ...] = ()) -> tuple[_Loaded, bool, bool]:
    path, pinned, shipped = _find(ref, relative_to)
    resolved = str(path.resolve())
    if resolved in seen:
        raise InputError(str(path), "policy.extends: circular inheritance")
    data, text = load_toml(path, "policy", POLICY_LIMIT)
    f = _File(path, text, data)
    thresholds = _validate(f, registry, known)
    waivers = [_waiver(f, p, w) for p, w in f.tables("waivers")]
    meta = data.get("policy", {})
    chain = [f"{meta['name']}@{meta['version']}"]
    parent = meta.get("extends")
    if parent:
        if not parent.endswith(".toml") and "@" not in parent and "/" not in parent:
            raise f.error(("policy", "extends"), f"pin the parent's version, e.g. {parent}@{_newest(parent)}")
        try:
            base, _, _ = _load_chain(parent, registry, known, path, (*seen, resolved))
        except InputError as exc:
            if exc.where == parent:  # the parent itself could not be found: say where it was named
                raise f.error(("policy", "extends"), exc.message) from None
            raise
        own = {k: v for k, v in data.items() if k not in ("policy", "waivers", "thresholds")}
        data = _merge({k: v for k, v in base.data.items() if k != "policy"}, own)
        data["policy"] = meta
        thresholds = {**base.thresholds, **thresholds}
        waivers = base.waivers + waivers
        chain += base.chain
    return _Loaded(data, thresholds, f, chain, waivers), pinned, shipped


def _newest(name: str) -> str:
    versions = sorted((k for k in shipped_policies() if k.split("@")[0] == name), key=_version_key)
    return versions[-1].split("@", 1)[1] if versions else "VERSION"


def _waiver(f: _File, path: tuple[Any, ...], w: dict[str, Any]) -> Waiver:
    expires = w["expires"]
    if isinstance(expires, datetime):
        expires = expires.date()
    return Waiver(w["check"], w["target"], w["reason"], w["owner"], expires,
                  SourceRef(str(f.path), locate(f.text, path)))


# --------------------------------------------------------------------------- the policy

def load_policy(ref: str | None, registry: Registry) -> Policy:
    """Load, inherit and validate a policy against the checks that exist."""
    known = registry.thresholds()
    loaded, pinned, shipped = _load_chain(ref or DEFAULT_POLICY, registry, known)
    data, leaf = loaded.data, loaded.leaf
    meta = data["policy"]
    scoring = data.get("scoring", {})

    grades = [(g, float(data["grades"][g])) for g in GRADES if g in data.get("grades", {})]
    if not grades:
        raise leaf.error(("grades",), "at least one grade threshold is required, e.g. [grades] A = 85")
    if [m for _, m in grades] != sorted((m for _, m in grades), reverse=True):
        raise leaf.error(("grades",), "thresholds must fall from A+ to F")

    pillar_weights = {p: 1.0 for p in PILLARS} | {k: float(v) for k, v in scoring.get("pillar_weights", {}).items()}
    if not any(pillar_weights.values()):
        raise leaf.error(("scoring", "pillar_weights"), "at least one pillar needs a weight above 0")
    level_weights = DEFAULT_LEVEL_WEIGHTS | {k: float(v) for k, v in scoring.get("level_weights", {}).items()}

    caps = [Cap(c["check"], frozenset(Status(s) for s in c.get("status", ["fail"])), c["grade"],
                _cap_reason(c.get("reason") or c["check"]), str(c.get("code", f"cap:{c['check']}")))
            for c in data.get("caps", [])]

    return Policy(
        name=meta["name"],
        version=meta["version"],
        title=str(meta.get("title", meta["name"])),
        description=str(meta.get("description", "")),
        source=str(leaf.path),
        warn_fraction=float(scoring.get("warn_fraction", 0.5)),
        level_weights=level_weights,
        required_fail_cap=float(scoring.get("required_fail_cap", 40.0)),
        pillar_weights=pillar_weights,
        grades=grades,
        caps=caps,
        thresholds=known | loaded.thresholds,
        settings=_settings(data.get("checks", {}), registry, level_weights),
        waivers=loaded.waivers,
        chain=loaded.chain,
        pinned=pinned,
        shipped=shipped,
    )


def _cap_reason(value: str | dict[str, str]) -> dict[str, str]:
    """A validated cap reason in every language (a plain string serves them all)."""
    return {lang: value for lang in LANGUAGES} if isinstance(value, str) else dict(value)


def _settings(checks: dict[str, dict[str, Any]], registry: Registry,
              level_weights: dict[str, float]) -> dict[str, CheckSetting]:
    """Per-check settings: globs in file order, then exact ids, over the check's own level."""
    ordered = [p for p in checks if _GLOB.search(p)] + [p for p in checks if not _GLOB.search(p)]
    out = {}
    for chk in registry:
        merged: dict[str, Any] = {}
        for pattern in ordered:
            if fnmatchcase(chk.id, pattern):
                merged.update(checks[pattern])
        level = Level(merged.get("level", chk.level))
        weight = float(merged.get("weight", level_weights[str(level)]))
        out[chk.id] = CheckSetting(bool(merged.get("enabled", True)), level, weight)
    return out
