"""Every text a check shows exists in English and Dutch, and every message code a check uses resolves."""

import ast
from pathlib import Path

import pytest

import checks.catalogue as catalogue_module
from checks.catalogue import LANGS, Catalogue, CatalogueError, Phrase, catalogue, localise, render
from checks.registry import CODE, default_registry

CHECKS_DIR = Path(__file__).parent.parent / "checks"
OUTCOME_HELPERS = {"passed", "warned", "failed", "info", "not_applicable", "error", "NotMeasured", "Phrase"}


def test_every_check_has_title_and_remediation_in_both_languages():
    for chk in default_registry():
        for what in (chk.title, chk.remediation):
            assert all(what.get(lang) for lang in LANGS), chk.id


def test_built_in_checks_take_every_text_from_the_catalogue():
    """Only third-party checks pass texts to @check; a built-in's texts are all in checks/texts/."""
    inline = []
    for path in sorted(CHECKS_DIR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "check":
                inline += [f"{path.name}:{node.lineno}: {k.arg}" for k in node.keywords
                           if k.arg in ("title", "remediation", "references", "messages")]
    assert not inline, inline
    assert {chk.id for chk in default_registry() if not chk.id.startswith("http.agency")} <= set(catalogue().checks)


def test_catalogue_holds_texts_only_for_checks_that_exist():
    ids = {chk.id for chk in default_registry()}
    assert set(catalogue().checks) <= ids, sorted(set(catalogue().checks) - ids)


def _check_of(func: ast.AST) -> str | None:
    """The check id a function is declared as (its @check decorator's first argument)."""
    for deco in getattr(func, "decorator_list", []):
        if isinstance(deco, ast.Call) and getattr(deco.func, "id", None) == "check" and deco.args:
            return deco.args[0].value
    return None


def _codes_in_source() -> list[tuple[str, int, str, str | None]]:
    """(file under checks/, line, code, enclosing check id) for every outcome built from a literal code."""
    found = set()
    for path in sorted(CHECKS_DIR.glob("**/*.py")):
        file = path.relative_to(CHECKS_DIR).as_posix()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for func in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]:
            owner = _check_of(func)
            for node in ast.walk(func):
                if (isinstance(node, ast.Call) and getattr(node.func, "id", None) in OUTCOME_HELPERS
                        and node.args and isinstance(node.args[0], ast.Constant)
                        and isinstance(node.args[0].value, str)):
                    found.add((file, node.lineno, node.args[0].value, owner))
    return sorted(found, key=lambda f: (f[0], f[1], f[2], f[3] or ""))


def test_every_message_code_in_the_checks_resolves_in_both_languages():
    cat = catalogue()
    registry = default_registry()
    problems = []
    for file, line, code, owner in _codes_in_source():
        if not CODE.fullmatch(code):
            problems.append(f"{file}:{line}: {code!r} is inline text without a Dutch version")
            continue
        pillar = file.split("/")[0].removesuffix(".py")  # checks/<pillar>.py or checks/<pillar>/*.py
        if owner:
            try:
                registry[owner].template(code)
            except CatalogueError as exc:
                problems.append(f"{file}:{line}: {exc}")
        elif ":" in code:
            source, _, name = code.partition(":")
            if name not in cat.shared.get(source, {}):
                problems.append(f"{file}:{line}: no shared text {code!r}")
        elif code not in cat.shared.get(pillar, {}) and code not in cat.shared["common"] and not any(
                code in t.messages for cid, t in cat.checks.items() if cid.startswith(pillar + ".")):
            problems.append(f"{file}:{line}: {code!r} is in no catalogue of the {pillar} pillar")
    assert not problems, "\n".join(problems)


def test_render_fills_phrases_lists_and_formats():
    templates = {"what": {"en": "Groups", "nl": "Groepen"},
                 "msg": {"en": "{what}: {names} ({bits:.0f} bits)", "nl": "{what}: {names} ({bits:.0f} bits)"}}
    params = {k: localise(v, templates.__getitem__)
              for k, v in {"what": Phrase("what"), "names": ["x25519", "secp256r1"], "bits": 2048.4}.items()}
    assert params["what"] == {"en": "Groups", "nl": "Groepen"}  # stored per language: re-renders without the check
    assert render(templates["msg"], params, "en") == "Groups: x25519, secp256r1 (2048 bits)"
    assert render(templates["msg"], params, "nl") == "Groepen: x25519, secp256r1 (2048 bits)"
    with pytest.raises(CatalogueError, match="KeyError"):
        render(templates["msg"], {"what": "x"}, "en")


@pytest.mark.parametrize("text, problem", [
    ('[check."tls.x"]\ntitle = { en = "T" }\nremediation = { en = "R", nl = "R" }', "title: needs a non-empty text"),
    ('[check."tls.x"]\ntitle = { en = "T", nl = "" }\nremediation = { en = "R", nl = "R" }', "title: needs"),
    ('[shared]\nm = { en = "{a} and {b}", nl = "{a}" }', "en and nl use different fields"),
    ('[check."tls.x"]\ntitle = { en = "T", nl = "T" }\nremediation = { en = "R", nl = "R" }\nreferences = ["{nope}"]',
     "unknown document 'nope'"),
    ('[shared\n', "tls.toml"),
])
def test_a_catalogue_without_both_languages_is_refused(monkeypatch, text, problem):
    real = catalogue_module._read
    monkeypatch.setattr(catalogue_module, "_read", lambda name: real(name) if name == "common" else
                        __import__("tomllib").loads(text) if not text.startswith("[shared\n") else real("missing"))
    with pytest.raises((CatalogueError, FileNotFoundError), match=problem if problem != "tls.toml" else None):
        Catalogue(("tls",))


def test_problem_codes_of_the_standards_parsers_have_texts():
    """Codes a parser hands to a check as data (CAA problems, security.txt issues) resolve in both languages."""
    from scanner.standards import caa, security_txt

    registry = default_registry()
    for code in caa.PROBLEMS:
        registry["dns.caa"].template(code)
    for code in security_txt.FRAMING:
        registry["http.security_txt.format"].template(f"frame_{code}")
    from checks.http.security_txt import _ISSUES

    assert set(security_txt.SYNTAX) - set(_ISSUES) == {"bad_date"}  # judged by http.security_txt itself
    for _, _, message in _ISSUES.values():
        registry["http.security_txt.format"].template(message)
