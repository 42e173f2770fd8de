"""Project promises: the README's two-command start, CI reading it, the example inventory."""

import re
import tomllib
from pathlib import Path

from scanner.inventory import load_inventory

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.startswith("    ")]


def test_quick_start_has_exactly_two_command_lines():
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    demo, tests = commands
    assert demo.endswith("bolwerk demo") and "pip install" in demo
    assert "'.[test]'" in tests and tests.endswith("-m pytest")


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    marked = re.search(r"<!-- ci:test-command -->\n    (.+)\n", readme).group(1)
    assert marked == quick_start_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "ci:test-command" in ci and "unshare -n" in ci


def test_example_inventory_is_valid_and_never_scanned_by_tests():
    path = ROOT / "examples" / "flanders.toml"
    written = tomllib.loads(path.read_text(encoding="utf-8"))["service"]
    inv = load_inventory(path)
    # every service written is loaded, with its organisation (a realistic estate: many of both)
    assert [(s.id, s.organisation) for s in inv.services] == [(s["id"], s["organisation"]) for s in written]
    assert len(written) >= 20 and len({s["organisation"] for s in written}) >= 10
    for path in (ROOT / "tests").glob("*.py"):
        if path.name != "test_project.py":
            assert "flanders.toml" not in path.read_text(encoding="utf-8"), path
