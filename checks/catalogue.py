"""Every text a check shows, in English and Dutch side by side: titles, remediation,
references and message templates, read from `checks/texts/<pillar>.toml`.

Why data: a translator or reviewer edits one file per pillar without reading Python, and
a test can prove that no text lacks a language. A check returns an outcome with a message
*code* and *parameters*; the engine renders the message in every language from here, and
reports can render it again in the language of the page.

Where a code is looked up, in order:
- `code`: the check's own `messages`, then the `[shared]` messages of its pillar's file,
  then the `[shared]` messages of `common.toml`;
- `pillar:code` (e.g. `tls:versions_offered`): the `[shared]` messages of that file, for
  helpers one pillar lends another (the mail pillar judges an MX's TLS as the TLS pillar does).

Templates use `str.format` fields (`{days}`, `{bits:.0f}`; a literal brace is `{{`). A
parameter is a plain value, a list (rendered joined by ", ", or by the separator written
after the field's colon: `{problems:; }`), or a `Phrase`: a catalogue text used inside
another (a localised word or clause); the engine stores a phrase as its rendering per
language ({"en": ..., "nl": ...}), so a stored finding re-renders without the check that
made it. References may name a document of `common.toml`'s `[documents]` as `{name}`, so
every pillar spells a cited document the same way.

Both languages use the same fields, so no translation silently drops a detail. Where one
language deliberately leaves a field out (the English names a probe's own words, the Dutch
a label for them), the text says so: `en_only = ["reason"]`, `nl_only = ["labels"]`.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from string import Formatter
from typing import Any

LANGS = ("en", "nl")
COMMON = "common"


class CatalogueError(Exception):
    """A text is missing or malformed: a bug in a catalogue or a check, never the target's."""


@dataclass(frozen=True)
class Phrase:
    """A catalogue text used as a parameter of another text (looked up like a message code)."""

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, code: str, **params: Any) -> None:
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "params", params)


@dataclass(frozen=True)
class CheckTexts:
    title: Mapping[str, str]
    remediation: Mapping[str, str]
    references: tuple[str, ...]
    messages: Mapping[str, Mapping[str, str]]


def _read(name: str) -> dict[str, Any]:
    text = resources.files("checks").joinpath("texts", f"{name}.toml").read_text(encoding="utf-8")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"checks/texts/{name}.toml: {exc}") from None


def _bilingual(value: Any, where: str) -> dict[str, str]:
    if not isinstance(value, Mapping) or any(not isinstance(value.get(lang), str) or not value[lang]
                                               for lang in LANGS):
        raise CatalogueError(f"{where}: needs a non-empty text in each of {', '.join(LANGS)}")
    used = {lang: _fields(value[lang]) for lang in LANGS}
    only = {lang: set(value.get(f"{lang}_only", ())) for lang in LANGS}
    for lang in LANGS:
        if not only[lang] <= used[lang]:
            raise CatalogueError(f"{where}: {lang}_only names fields the {lang} text does not use "
                                 f"({sorted(only[lang] - used[lang])})")
    en, nl = (used[lang] - only[lang] for lang in LANGS)
    if en != nl:
        raise CatalogueError(f"{where}: en and nl use different fields ({sorted(en)} vs {sorted(nl)})")
    return {lang: value[lang] for lang in LANGS}


def _fields(template: str) -> set[str]:
    return {name.split(".")[0].split("[")[0] for _, name, _, _ in Formatter().parse(template) if name}


def _messages(table: Any, where: str) -> dict[str, dict[str, str]]:
    if not isinstance(table, Mapping):
        raise CatalogueError(f"{where}: must be a table of messages")
    return {code: _bilingual(text, f"{where}.{code}") for code, text in table.items()}


class Catalogue:
    """All packaged texts. `pillars` names the files besides common.toml."""

    def __init__(self, pillars: tuple[str, ...]) -> None:
        common = _read(COMMON)
        self.documents: dict[str, str] = dict(common.get("documents", {}))
        self.shared: dict[str, dict[str, dict[str, str]]] = {
            COMMON: _messages(common.get("shared", {}), "common.toml [shared]")}
        self.checks: dict[str, CheckTexts] = {}
        for pillar in pillars:
            data = _read(pillar)
            self.shared[pillar] = _messages(data.get("shared", {}), f"{pillar}.toml [shared]")
            for check_id, entry in data.get("check", {}).items():
                where = f"{pillar}.toml check.{check_id}"
                self.checks[check_id] = CheckTexts(
                    title=_bilingual(entry.get("title"), f"{where}.title"),
                    remediation=_bilingual(entry.get("remediation"), f"{where}.remediation"),
                    references=tuple(self._reference(r, where) for r in entry.get("references", [])),
                    messages=_messages(entry.get("messages", {}), f"{where}.messages"))

    def _reference(self, ref: str, where: str) -> str:
        try:
            return ref.format_map(self.documents)
        except (KeyError, ValueError) as exc:
            raise CatalogueError(f"{where}.references: unknown document {exc}") from None

    def template(self, check_id: str, pillar: str, code: str,
                 own: Mapping[str, Mapping[str, str]] | None = None) -> Mapping[str, str]:
        """The bilingual template for `code` as seen from one check (see the module docstring)."""
        if ":" in code:
            source, _, name = code.partition(":")
            found = self.shared.get(source, {}).get(name)
        else:
            messages = own if own is not None else (self.checks[check_id].messages if check_id in self.checks
                                                    else {})
            found = (messages.get(code) or self.shared.get(pillar, {}).get(code)
                     or self.shared[COMMON].get(code))
        if found is None:
            raise CatalogueError(f"{check_id}: no text for message code {code!r}")
        return found


@cache
def catalogue() -> Catalogue:
    from scanner.model import PILLARS

    return Catalogue(PILLARS)


def localise(value: Any, resolve) -> Any:
    """A parameter as stored: phrases become {lang: text}; lists are localised item by item."""
    if isinstance(value, Phrase):
        params = {k: localise(v, resolve) for k, v in value.params.items()}
        return {lang: render(resolve(value.code), params, lang) for lang in LANGS}
    if isinstance(value, list | tuple):
        return [localise(v, resolve) for v in value]
    return value


class _Joined(list):
    """A list parameter in one language: `{names}` joins it with ", ", `{names:; }` with "; "."""

    def __format__(self, separator: str) -> str:
        return (separator or ", ").join(self)

    def __str__(self) -> str:
        return format(self)


def _in(value: Any, lang: str) -> Any:
    if isinstance(value, Mapping) and set(value) == set(LANGS):
        return value[lang]
    if isinstance(value, list | tuple):
        return _Joined(str(_in(v, lang)) for v in value)
    return value


def render(template: Mapping[str, str], params: Mapping[str, Any], lang: str) -> str:
    """One text in one language, from stored (already localised) parameters."""
    try:
        return template[lang].format_map({k: _in(v, lang) for k, v in params.items()})
    except (KeyError, IndexError, ValueError) as exc:
        raise CatalogueError(f"cannot fill {template['en']!r}: {type(exc).__name__}: {exc}") from None


def rendered(value: Any, check_id: str, lang: str = "en") -> Any:
    """A parameter (a phrase, a list of them, a plain value) in one language, as the check `check_id`
    sees it, outside its message: for evidence that records a problem in words (English, as
    evidence always has). A list stays a list."""
    pillar = check_id.split(".", 1)[0]
    value = localise(value, lambda code: catalogue().template(check_id, pillar, code))
    return [_in(v, lang) for v in value] if isinstance(value, list) else _in(value, lang)
