"""Structured Field Values for HTTP (RFC 8941): Items with their Parameters, and Lists.
Pure, linear in the input, no I/O.

RFC 8941 §4.2: a value that breaks the grammar fails as a whole (a recipient then ignores
the field), so a parse returns the value or the first failure with its position. Tokens
are case-sensitive (§3.3.4) and kept as `Token`, apart from Strings. Fields such as COOP
and COEP (HTML §7.1.3) are Items: a repeated header becomes "a, b" when combined (RFC 9110
§5.3), which is a List, not an Item, and so fails.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

_TCHAR = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TOKEN_CHARS = _TCHAR | frozenset(":/")
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-.*")
_ALPHA = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_DIGITS = frozenset("0123456789")
_B64 = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


class Token(str):
    """An sf-token (§3.3.4): compared as written, never case-folded."""


@dataclass(frozen=True)
class Item:
    value: Any  # int, float, str, Token, bytes, bool, or a list of Items (an Inner List)
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Failure:
    """Why and where parsing failed; `reason` is a short code (see `_Parser.fail`)."""

    position: int
    reason: str


class _Fail(Exception):
    def __init__(self, position: int, reason: str) -> None:
        self.failure = Failure(position, reason)


class _Parser:
    def __init__(self, text: str) -> None:
        self.s, self.i = text, 0

    def fail(self, reason: str) -> None:
        raise _Fail(self.i, reason)

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def skip(self, chars: str = " ") -> None:
        while self.peek() and self.peek() in chars:
            self.i += 1

    def end(self) -> None:
        self.skip()
        if self.i < len(self.s):
            self.fail("trailing_characters")

    # §4.2.1
    def list_(self) -> list[Item]:
        members: list[Item] = []
        while self.i < len(self.s):
            members.append(self.inner_list() if self.peek() == "(" else self.item())
            self.skip(" \t")
            if self.i >= len(self.s):
                return members
            if self.peek() != ",":
                self.fail("expected_comma")
            self.i += 1
            self.skip(" \t")
            if self.i >= len(self.s):
                self.fail("trailing_comma")
        return members

    # §4.2.1.2
    def inner_list(self) -> Item:
        self.i += 1
        members = []
        while self.i < len(self.s):
            self.skip()
            if self.peek() == ")":
                self.i += 1
                return Item(members, self.params())
            members.append(self.item())
            if self.peek() not in (" ", ")"):
                self.fail("inner_list_member")
        self.fail("unterminated_inner_list")
        raise AssertionError  # fail() raised

    # §4.2.3
    def item(self) -> Item:
        return Item(self.bare_item(), self.params())

    def bare_item(self) -> Any:
        c = self.peek()
        if c == "-" or c in _DIGITS:
            return self.number()
        if c == '"':
            return self.string()
        if c == "*" or c in _ALPHA:
            return self.token()
        if c == ":":
            return self.byte_sequence()
        if c == "?":
            return self.boolean()
        self.fail("not_an_item")

    # §4.2.3.2
    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        while self.peek() == ";":
            self.i += 1
            self.skip()
            key = self.key()
            value: Any = True
            if self.peek() == "=":
                self.i += 1
                value = self.bare_item()
            out[key] = value
        return out

    # §4.2.3.3
    def key(self) -> str:
        start = self.i
        if not (self.peek() == "*" or "a" <= self.peek() <= "z"):
            self.fail("bad_key")
        while self.peek() and self.peek() in _KEY_CHARS:
            self.i += 1
        return self.s[start:self.i]

    # §4.2.4
    def number(self) -> int | float:
        start = self.i
        if self.peek() == "-":
            self.i += 1
        if self.peek() not in _DIGITS or not self.peek():
            self.fail("bad_number")
        while self.peek() and (self.peek() in _DIGITS or self.peek() == "."):
            self.i += 1
        text = self.s[start:self.i]
        digits = text.lstrip("-")
        if "." not in text:
            if len(digits) > 15:
                self.fail("integer_too_long")
            return int(text)
        whole, _, frac = digits.partition(".")
        if "." in frac or len(whole) > 12 or not 1 <= len(frac) <= 3:
            self.fail("bad_decimal")
        return float(text)

    # §4.2.5
    def string(self) -> str:
        self.i += 1
        out = []
        while self.i < len(self.s):
            c = self.s[self.i]
            self.i += 1
            if c == "\\":
                if self.i >= len(self.s) or self.s[self.i] not in '"\\':
                    self.fail("bad_escape")
                out.append(self.s[self.i])
                self.i += 1
            elif c == '"':
                return "".join(out)
            elif not " " <= c <= "~":
                self.i -= 1
                self.fail("bad_string_character")
            else:
                out.append(c)
        self.fail("unterminated_string")
        raise AssertionError  # fail() raised

    # §4.2.6
    def token(self) -> Token:
        start = self.i
        self.i += 1
        while self.peek() and self.peek() in _TOKEN_CHARS:
            self.i += 1
        return Token(self.s[start:self.i])

    # §4.2.7
    def byte_sequence(self) -> bytes:
        self.i += 1
        end = self.s.find(":", self.i)
        if end < 0:
            self.fail("unterminated_byte_sequence")
        chunk = self.s[self.i:end]
        if any(c not in _B64 for c in chunk):
            self.fail("bad_byte_sequence")
        self.i = end + 1
        try:
            return base64.b64decode(chunk + "=" * (-len(chunk) % 4))
        except binascii.Error:
            self.i = end
            self.fail("bad_byte_sequence")
        raise AssertionError  # fail() raised

    # §4.2.8
    def boolean(self) -> bool:
        self.i += 1
        c = self.peek()
        if c not in ("0", "1") or not c:
            self.fail("bad_boolean")
        self.i += 1
        return c == "1"


def _parse(text: str, rule: str) -> tuple[Any, Failure | None]:
    """§4.2: leading and trailing spaces dropped, non-ASCII fails, the rest must be consumed."""
    if not text.isascii():
        return None, Failure(next(i for i, c in enumerate(text) if not c.isascii()), "not_ascii")
    p = _Parser(text)
    try:
        p.skip()
        value = p.list_() if rule == "list" else p.item()
        p.end()
    except _Fail as exc:
        return None, exc.failure
    return value, None


def parse_item(text: str) -> tuple[Item | None, Failure | None]:
    """An Item field value: (item, None) or (None, where and why it failed)."""
    return _parse(text, "item")


def parse_list(text: str) -> tuple[list[Item] | None, Failure | None]:
    """A List field value: (members, None) or (None, where and why it failed)."""
    return _parse(text, "list")
