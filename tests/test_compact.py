"""How the store keeps facts (scanner/compact.py).

Its JSON: orjson where it reads and writes as json does, json where not. A stored run must read back as it was written, by this version and by earlier ones (which wrote
with json): an integer beyond 64 bits stays an integer, NaN stays NaN, a malformed text is
refused as json refuses it.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.compact import Packed, dumps, loads, pack, pick, pick_each


def json_compact(obj: object) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)))  # as stored: valid UTF-8
scalars = st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | text | st.floats(
    allow_nan=False, allow_infinity=False).filter(lambda x: x == 0 or abs(x) >= 1e-4)
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                         | st.dictionaries(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8), inner, max_size=5), max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(documents)
def test_written_as_json_writes_it_and_read_back_as_json_reads_it(doc: object) -> None:
    text = dumps(doc)
    assert text == json_compact(doc)
    assert loads(text) == json.loads(text) == doc
    assert loads(text.encode("utf-8", "surrogatepass")) == doc


@pytest.mark.parametrize("number", [2**64, 2**63, -(2**63) - 1, 10**30, -(10**19)])
def test_integers_beyond_64_bits_stay_integers(number: int) -> None:
    text = json_compact({"n": number, "xs": [number]})  # as an earlier version wrote it
    back = loads(text)
    assert back == {"n": number, "xs": [number]} and type(back["n"]) is int
    assert dumps(back) == text


def test_digits_in_a_string_are_read_as_a_string() -> None:
    assert loads('{"id":"12345678901234567890"}') == {"id": "12345678901234567890"}


def test_nan_written_by_json_reads_back() -> None:
    back = loads(json_compact({"x": float("nan")}))
    assert math.isnan(back["x"])


def test_keys_that_are_not_strings_are_written_as_json_writes_them() -> None:
    assert dumps({1: "a", 2: "b"}) == json_compact({1: "a", 2: "b"}) == '{"1":"a","2":"b"}'


@pytest.mark.parametrize("text", ["[1,", "{'a': 1}", "", "[1] x"])
def test_malformed_text_is_refused(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        loads(text)


def packed(facts: dict[str, object]) -> Packed:
    blobs: dict[str, str] = {}
    data = pack(facts, blobs)
    return Packed(data, blobs.__getitem__)


FACTS = {"certificate": {"chain": [{"spki_sha256": "ab" * 32, "pem": "x" * 600}, {"pem": "y" * 600}],
                         "served": 2}, "http": {"status": 200}}


@pytest.mark.parametrize("facts", [FACTS, packed(FACTS)], ids=["plain", "packed"])
def test_pick_reads_along_a_path(facts: object) -> None:
    assert pick(facts, "certificate", "chain", 0) == FACTS["certificate"]["chain"][0]
    assert pick(facts, "certificate", "chain", -1, "pem") == "y" * 600
    assert pick(facts, "http") == {"status": 200}
    assert pick(facts) == FACTS
    for nowhere in [("tls",), ("certificate", "chain", 2), ("certificate", "chain", "0"), ("http", "status", "x"),
                    ("certificate", "served", 0)]:
        assert pick(facts, *nowhere) is None


def test_pick_reads_only_the_shared_objects_on_its_path() -> None:
    blobs: dict[str, str] = {}
    data = pack(FACTS, blobs)
    read: list[str] = []
    facts = Packed(data, lambda digest: read.append(digest) or blobs[digest])
    assert len(blobs) == 2  # each certificate of the chain is a shared object
    assert pick(facts, "certificate", "chain", 0)["spki_sha256"] == "ab" * 32
    assert len(read) == 1  # the leaf's, not the other certificate's


MAIL = {"mail": {"mx": [{"host": f"mx{n}.example", "certificate": {"chain": [{"spki_sha256": str(n) * 64,
                                                                              "pem": str(n) * 600}]},
                         "tls": {"suites": ["x" * 40] * 20}} for n in range(2)] + ["not an object"]}}


@pytest.mark.parametrize("facts", [MAIL, packed(MAIL)], ids=["plain", "packed"])
def test_pick_each_gives_the_items_of_a_list_for_pick(facts: object) -> None:
    items = pick_each(facts, "mail", "mx")
    assert [pick(mx, "certificate", "chain", 0, "spki_sha256") for mx in items[:2]] == ["0" * 64, "1" * 64]
    assert [dict(mx) for mx in items[:2]] == MAIL["mail"]["mx"][:2] and items[2] == "not an object"
    assert [mx.get("host") for mx in items[:2]] == ["mx0.example", "mx1.example"]
    for nowhere in [("mail",), ("mail", "mx", 0), ("dns",)]:
        assert pick_each(facts, *nowhere) == []


def test_pick_each_leaves_each_item_packed() -> None:
    blobs: dict[str, str] = {}
    data = pack(MAIL, blobs)
    read: list[str] = []
    facts = Packed(data, lambda digest: read.append(digest) or blobs[digest])
    items = pick_each(facts, "mail", "mx")
    assert pick(items[1], "certificate", "chain", 0, "spki_sha256") == "1" * 64
    assert not any("x" * 40 in blobs[digest] for digest in read)  # no MX host's TLS facts read
