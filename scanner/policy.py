"""Policies: versioned TOML data that say which checks count, how much, and what caps a grade.

A policy is pinned by ``name@version`` (shipped in ``scanner/data/policies``) or given
as a file. ``extends`` inherits from another policy: tables merge key by key, arrays of
tables (caps, waivers) are appended. Every unknown key or check is an input error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from checks.registry import Check, Registry
from scanner.model import PILLARS, InputError, Level, Status
from scanner.tomlfile import line_of, load_toml, nth_table_line, where

POLICY_DIR = Path(__file__).parent / "data" / "policies"
DEFAULT_POLICY = "bolwerk-baseline"
GRADES: tuple[str, ...] = ("A+", "A", "B", "C", "D", "E", "F")
INCOMPLETE = "incomplete"

_TOP_KEYS = {"policy", "scoring", "grades", "caps", "thresholds", "checks", "waivers"}
_POLICY_KEYS = {"name", "version", "title", "description", "extends"}
_SCORING_KEYS = {"warn_fraction", "level_weights", "required_fail_cap", "pillar_weights"}
_CAP_KEYS = {"check", "status", "grade", "reason"}
_CHECK_KEYS = {"level", "weight", "enabled"}
_WAIVER_KEYS = {"check", "target", "reason", "owner", "expires"}


@dataclass(frozen=True)
class CheckSetting:
    enabled: bool
    level: Level
    weight: float


@dataclass(frozen=True)
class Cap:
    check: str
    statuses: frozenset[Status]
    grade: str
    reason: str


@dataclass(frozen=True)
class Waiver:
    check: str
    target: str  # exact target or fnmatch pattern
    reason: str
    owner: str
    expires: date

    def matches(self, check_id: str, target: str) -> bool:
        return fnmatchcase(check_id, self.check) and fnmatchcase(target, self.target)

    def active(self, at: datetime) -> bool:
        return at.date() <= self.expires


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
    overrides: dict[str, dict[str, Any]]
    waivers: list[Waiver] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def setting(self, chk: Check) -> CheckSetting:
        over = self.overrides.get(chk.id, {})
        level = Level(over.get("level", chk.level))
        weight = float(over.get("weight", self.level_weights[str(level)]))
        return CheckSetting(bool(over.get("enabled", True)), level, weight)

    def grade_for(self, score: float) -> str:
        for grade, minimum in self.grades:
            if score >= minimum:
                return grade
        return GRADES[-1]


def shipped_policies() -> dict[str, Path]:
    out = {}
    for path in sorted(POLICY_DIR.glob("*.toml")):
        data, _ = load_toml(path)
        meta = data.get("policy", {})
        out[f"{meta.get('name')}@{meta.get('version')}"] = path
    return out


def _find(ref: str) -> Path:
    candidate = Path(ref)
    if candidate.suffix == ".toml" or candidate.exists():
        if not candidate.is_file():
            raise InputError(ref, "policy file not found")
        return candidate
    shipped = shipped_policies()
    if ref in shipped:
        return shipped[ref]
    named = sorted((k for k in shipped if k.split("@")[0] == ref), reverse=True)
    if named:  # an unpinned name takes the newest shipped version
        return shipped[named[0]]
    known = ", ".join(sorted(shipped))
    raise InputError(ref, f"unknown policy (shipped: {known}; or give a .toml file)")


def _merge(base: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in child.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        elif isinstance(value, list) and isinstance(out.get(key), list) and key in ("caps", "waivers"):
            out[key] = out[key] + value
        else:
            out[key] = value
    return out


def _raw(ref: str, seen: tuple[str, ...] = ()) -> tuple[dict[str, Any], Path, str]:
    path = _find(ref)
    if str(path.resolve()) in seen:
        raise InputError(str(path), "policy.extends: circular inheritance")
    data, text = load_toml(path)
    _check_keys(data, path, text)
    parent = data.get("policy", {}).get("extends")
    if parent:
        pdata, _, _ = _raw(parent, seen + (str(path.resolve()),))
        pdata.pop("policy", None)
        data = _merge(pdata, data)
    return data, path, text


def _unknown(keys: set[str], allowed: set[str], path: Path, text: str, prefix: str) -> None:
    for key in sorted(keys - allowed):
        line = line_of(text, key)
        raise InputError(where(path, f"{prefix}{key}", line), f"unknown key (expected one of: {', '.join(sorted(allowed))})")


def _check_keys(data: dict[str, Any], path: Path, text: str) -> None:
    _unknown(set(data), _TOP_KEYS, path, text, "")
    _unknown(set(data.get("policy", {})), _POLICY_KEYS, path, text, "policy.")
    _unknown(set(data.get("scoring", {})), _SCORING_KEYS, path, text, "scoring.")
    _unknown(set(data.get("grades", {})), set(GRADES), path, text, "grades.")
    for i, cap in enumerate(data.get("caps", [])):
        _unknown(set(cap), _CAP_KEYS, path, text, f"caps[{i}].")
    for i, waiver in enumerate(data.get("waivers", [])):
        _unknown(set(waiver), _WAIVER_KEYS, path, text, f"waivers[{i}].")
    for cid, setting in data.get("checks", {}).items():
        if not isinstance(setting, dict):
            raise InputError(where(path, f"checks.{cid}", line_of(text, cid)), "expected a table")
        _unknown(set(setting), _CHECK_KEYS, path, text, f"checks.{cid}.")


def load_policy(ref: str | None, registry: Registry) -> Policy:
    """Load, inherit and validate a policy against the checks that exist."""
    data, path, text = _raw(ref or DEFAULT_POLICY)

    def bad(keypath: str, message: str, key: str | None = None, line: int | None = None) -> InputError:
        return InputError(where(path, keypath, line or line_of(text, key or keypath.split(".")[-1])), message)

    meta = data.get("policy", {})
    for key in ("name", "version"):
        if not isinstance(meta.get(key), str) or not meta.get(key):
            raise bad(f"policy.{key}", "required string")

    scoring = data.get("scoring", {})
    level_weights = {"required": 3.0, "recommended": 1.0, "optional": 0.0}
    for lvl, weight in scoring.get("level_weights", {}).items():
        if lvl not in level_weights:
            raise bad(f"scoring.level_weights.{lvl}", "unknown level")
        level_weights[lvl] = _number(weight, lambda m: bad(f"scoring.level_weights.{lvl}", m))
    pillar_weights = {p: 1.0 for p in PILLARS}
    for pillar, weight in scoring.get("pillar_weights", {}).items():
        if pillar not in pillar_weights:
            raise bad(f"scoring.pillar_weights.{pillar}", f"unknown pillar (pillars: {', '.join(PILLARS)})")
        pillar_weights[pillar] = _number(weight, lambda m: bad(f"scoring.pillar_weights.{pillar}", m))

    grades_data = data.get("grades", {})
    grades = []
    for grade in GRADES:
        if grade in grades_data:
            grades.append((grade, _number(grades_data[grade], lambda m: bad(f"grades.{grade}", m))))
    if not grades:
        raise bad("grades", "at least one grade threshold is required")
    if [g[1] for g in grades] != sorted((g[1] for g in grades), reverse=True):
        raise bad("grades", "thresholds must fall from A+ to F")

    caps = []
    for i, cap in enumerate(data.get("caps", [])):
        line = nth_table_line(text, "caps", i)
        cid = cap.get("check", "")
        if cid not in registry:
            raise bad(f"caps[{i}].check", f"unknown check {cid!r}", line=line)
        if cap.get("grade") not in GRADES:
            raise bad(f"caps[{i}].grade", f"grade must be one of {', '.join(GRADES)}", line=line)
        try:
            statuses = frozenset(Status(s) for s in cap.get("status", ["fail"]))
        except ValueError as exc:
            raise bad(f"caps[{i}].status", str(exc), line=line) from None
        caps.append(Cap(cid, statuses, cap["grade"], str(cap.get("reason", ""))))

    known_thresholds = registry.thresholds()
    thresholds = dict(known_thresholds)
    for key, value in data.get("thresholds", {}).items():
        if key not in known_thresholds:
            raise bad(f"thresholds.{key}", "unknown threshold (see `bolwerk checks --thresholds`)")
        expected = type(known_thresholds[key])
        if expected in (int, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
            value = expected(value) if expected is float else value
        elif not isinstance(value, expected):
            raise bad(f"thresholds.{key}", f"expected {expected.__name__}, got {type(value).__name__}")
        thresholds[key] = value

    overrides: dict[str, dict[str, Any]] = {}
    for cid, setting in data.get("checks", {}).items():
        if cid not in registry:
            raise bad(f"checks.{cid}", "unknown check (see `bolwerk checks`)", key=cid)
        if "level" in setting and setting["level"] not in {lv.value for lv in Level}:
            raise bad(f"checks.{cid}.level", "must be required, recommended or optional", key=cid)
        if "weight" in setting:
            _number(setting["weight"], lambda m, c=cid: bad(f"checks.{c}.weight", m, key=c))
        if "enabled" in setting and not isinstance(setting["enabled"], bool):
            raise bad(f"checks.{cid}.enabled", "expected true or false", key=cid)
        overrides[cid] = setting

    waivers = []
    for i, w in enumerate(data.get("waivers", [])):
        line = nth_table_line(text, "waivers", i)
        for key in ("check", "target", "reason", "owner", "expires"):
            if not w.get(key):
                raise bad(f"waivers[{i}].{key}", "required (comply or explain: check, target, reason, owner, expires)", line=line)
        expires = w["expires"]
        if isinstance(expires, datetime):
            expires = expires.date()
        if not isinstance(expires, date):
            raise bad(f"waivers[{i}].expires", "expected a date such as 2027-03-31", line=line)
        if not any(fnmatchcase(c.id, w["check"]) for c in registry):
            raise bad(f"waivers[{i}].check", f"matches no check: {w['check']!r}", line=line)
        waivers.append(Waiver(w["check"], w["target"], w["reason"], w["owner"], expires))

    warn_fraction = _number(scoring.get("warn_fraction", 0.5), lambda m: bad("scoring.warn_fraction", m))
    if not 0 <= warn_fraction <= 1:
        raise bad("scoring.warn_fraction", "must lie between 0 and 1")
    return Policy(
        name=meta["name"],
        version=meta["version"],
        title=str(meta.get("title", meta["name"])),
        source=str(path),
        warn_fraction=warn_fraction,
        level_weights=level_weights,
        required_fail_cap=_number(scoring.get("required_fail_cap", 40.0), lambda m: bad("scoring.required_fail_cap", m)),
        pillar_weights=pillar_weights,
        grades=grades,
        caps=caps,
        thresholds=thresholds,
        overrides=overrides,
        waivers=waivers,
    )


def _number(value: Any, err) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise err(f"expected a number, got {value!r}")
    return float(value)
