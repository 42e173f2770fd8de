"""Framework references (checks/data/controls.toml): which controls each check evidences.

The mapping is data a reviewer can diff against the frameworks; the registry attaches it
to every check it builds (`Check.controls`), so reports can be read per control.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

DATA = resources.files("checks").joinpath("data/controls.toml")


@dataclass(frozen=True)
class Framework:
    id: str
    title: str
    controls: dict[str, str]  # control id -> title


@dataclass(frozen=True)
class ControlMap:
    frameworks: dict[str, Framework]
    checks: dict[str, tuple[str, ...]]  # check id or glob -> "FRAMEWORK:CONTROL" references

    def for_check(self, check_id: str, declared: tuple[str, ...] = ()) -> tuple[str, ...]:
        """The check's own references plus every mapped one, without repeats, in file order."""
        refs = list(declared)
        for pattern, mapped in self.checks.items():
            if fnmatchcase(check_id, pattern):
                refs += mapped
        return tuple(dict.fromkeys(refs))

    def title(self, ref: str) -> str:
        framework, _, control = ref.partition(":")
        fw = self.frameworks.get(framework)
        return fw.controls.get(control, "") if fw else ""


@cache
def control_map(path: Traversable = DATA) -> ControlMap:
    """Load and check the mapping; a mistake in it is a bug in Bolwerk's data, said plainly."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    unknown = set(data) - {"framework", "checks"}
    if unknown:
        raise ValueError(f"{path.name}: unknown section {sorted(unknown)[0]!r}")
    frameworks = {}
    for fid, fw in data.get("framework", {}).items():
        if set(fw) - {"title", "controls"} or not isinstance(fw.get("controls"), dict):
            raise ValueError(f"{path.name}: framework {fid!r} needs a title and a controls table, nothing else")
        frameworks[fid] = Framework(fid, str(fw.get("title", fid)), {str(k): str(v) for k, v in fw["controls"].items()})
    checks = {}
    for pattern, refs in data.get("checks", {}).items():
        if not isinstance(refs, list):
            raise ValueError(f"{path.name}: checks.{pattern!r} must be an array of references")
        for ref in refs:
            framework, sep, control = str(ref).partition(":")
            if not sep or framework not in frameworks or control not in frameworks[framework].controls:
                raise ValueError(f"{path.name}: checks.{pattern!r}: {ref!r} is not a declared FRAMEWORK:CONTROL")
        checks[pattern] = tuple(refs)
    return ControlMap(frameworks, checks)
