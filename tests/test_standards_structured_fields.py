"""RFC 8941 structured fields (scanner/standards/structured_fields.py): Items, Parameters, Lists."""

from __future__ import annotations

import pytest

from scanner.standards.structured_fields import Item, Token, parse_item, parse_list


@pytest.mark.parametrize("text, value, params", [
    pytest.param("same-origin", Token("same-origin"), {}, id="RFC8941-3.3.4-token"),
    pytest.param("Require-Corp", Token("Require-Corp"), {}, id="RFC8941-3.3.4-token-keeps-case"),
    pytest.param('same-origin; report-to="coop"', Token("same-origin"), {"report-to": "coop"},
                 id="RFC8941-3.1.2-string-parameter"),
    pytest.param("a;b;c=?0", Token("a"), {"b": True, "c": False}, id="RFC8941-3.1.2-bare-key-is-true"),
    pytest.param("  42  ", 42, {}, id="RFC8941-4.2-surrounding-spaces"),
    pytest.param("-1.5", -1.5, {}, id="RFC8941-3.3.2-decimal"),
    pytest.param('"a \\"b\\" c"', 'a "b" c', {}, id="RFC8941-3.3.3-string-escapes"),
    pytest.param(":aGVsbG8=:", b"hello", {}, id="RFC8941-3.3.5-byte-sequence"),
    pytest.param("?1", True, {}, id="RFC8941-3.3.6-boolean"),
    pytest.param("*/x:y", Token("*/x:y"), {}, id="RFC8941-3.3.4-token-characters"),
])
def test_items(text, value, params):
    item, failure = parse_item(text)
    assert failure is None and item == Item(value, params)
    assert isinstance(item.value, Token) is isinstance(value, Token)


@pytest.mark.parametrize("text, position, reason", [
    pytest.param("same-origin, same-origin", 11, "trailing_characters", id="RFC8941-4.2-a-list-is-not-an-item"),
    pytest.param("require-corp;;", 13, "bad_key", id="RFC8941-4.2.3.3-key-expected"),
    pytest.param("same-origin;Report-To=x", 12, "bad_key", id="RFC8941-4.2.3.3-keys-are-lowercase"),
    pytest.param('"open', 5, "unterminated_string", id="RFC8941-4.2.5-unterminated-string"),
    pytest.param("1234567890123456", 16, "integer_too_long", id="RFC8941-4.2.4-integer-digits"),
    pytest.param("1.2345", 6, "bad_decimal", id="RFC8941-4.2.4-decimal-fraction"),
    pytest.param("", 0, "not_an_item", id="RFC8941-4.2-empty-item"),
    pytest.param("même", 1, "not_ascii", id="RFC8941-4.2-ascii-only"),
    pytest.param("?2", 1, "bad_boolean", id="RFC8941-4.2.8-boolean"),
])
def test_item_failures(text, position, reason):
    item, failure = parse_item(text)
    assert item is None and (failure.position, failure.reason) == (position, reason)


def test_lists_and_inner_lists():
    members, failure = parse_list("same-origin, same-origin")
    assert failure is None and [m.value for m in members] == ["same-origin", "same-origin"]
    members, _ = parse_list('(a "b");q=1, c')
    assert members[0] == Item([Item(Token("a")), Item("b")], {"q": 1}) and members[1].value == "c"
    assert parse_list("") == ([], None)
    assert parse_list("a,")[1].reason == "trailing_comma"
    assert parse_list("a b")[1].reason == "expected_comma"
