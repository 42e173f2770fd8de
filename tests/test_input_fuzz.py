"""Property tests: an inventory or policy of any shape loads, or says why in one line naming the file.

Hypothesis writes documents of random shapes, keys and values (hostile unicode, huge
strings within a bound, every TOML type at any depth, near-misses of the real keys), and
the loaders must never raise anything but an `InputError` whose text is one line, names
the file and stays a few hundred characters long. A fixed seed and a bounded number of
examples keep the suite deterministic; a failure prints the document that broke it.
"""

from __future__ import annotations

import csv
import io
import math
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from checks.registry import default_registry
from scanner.inventory import load_inventory
from scanner.model import InputError
from scanner.policy import load_policy

REGISTRY = default_registry()
# The strategies below are deep; describing one is long, and Hypothesis says so.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")
FUZZ = settings(max_examples=100, deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
SEED = 20261128
LONGEST_ERROR = 600  # "a few hundred characters": file, line and key path (200) and the reason (300)

# ---------------------------------------------------------------- values

HOSTILE = ["", " ", "\u202e", "\u200b", "\x00", "\ufeff", "\n", "\\", "'", '"', "%00", "../../etc/passwd",
           "<script>alert(1)</script>", "💥", "ǅ", "İ", "ß", "\U000e0041", "\u0301", "a\u0000b"]
URLISH = ["https://a.test/", "http://b.test:8080/x?q=1", "a.test", "https://user:pw@a.test/", "https://[::1]/",
          "https://127.0.0.1:8443/", "https://bücher.test/", "xn--bcher-kva.test", "https://a.test:99999/",
          "https://a.test\\@b.test/", "ftp://a.test/", "https://-a-.test/", "https://a..test/", "//a.test",
          "https://" + "a" * 64 + ".test/", "https://a.test/%2e%2e/", "HTTPS://A.TEST", "https://a.test./"]
WORDS = ["web", "api", "redirect", "fail", "warn", "pass", "error", "A+", "A", "B", "F", "incomplete",
         "tls.protocol.tls10", "http.*", "mail.spf", "nope.check", "*", "bolwerk-baseline@2026.11",
         "bolwerk-baseline", "p.toml", "required", "recommended", "optional", "vlaanderen.test", "*.test"]

texts = st.one_of(
    st.text(max_size=30),
    st.sampled_from(HOSTILE + URLISH + WORDS),
    st.builds(lambda a, b: a + b, st.sampled_from(URLISH + WORDS), st.sampled_from(HOSTILE)),
    st.builds(lambda c, n: c * n, st.characters(codec="utf-8"), st.integers(200, 20_000)),  # huge, within a bound
)
scalars = st.one_of(texts, st.integers(min_value=-(2**63), max_value=2**63 - 1), st.floats(), st.booleans(),
                    st.dates(min_value=date(1, 1, 1)))


def keys(known: list[str]) -> st.SearchStrategy[str]:
    """Keys of a table: the real ones, near misses of them, anything."""
    anything = st.text(min_size=1, max_size=12)
    if not known:
        return anything
    return st.one_of(st.sampled_from(known), anything,
                     st.sampled_from([k.upper() for k in known] + [k + "s" for k in known]))


def values(known: list[str]) -> st.SearchStrategy:
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(keys(known), inner, max_size=4)), max_leaves=10)


def sometimes(extra: st.SearchStrategy[dict]) -> st.SearchStrategy[dict]:
    """An extra key in one document of four, so the documents get past the first unknown key."""
    return st.one_of(st.just({}), st.just({}), st.just({}), extra)


# ---------------------------------------------------------------- TOML, written by hand (no writer is a dependency)

def toml_string(text: str) -> str:
    out = []
    for c in text:
        out.append(f"\\u{ord(c):04x}" if c in '"\\' or ord(c) < 0x20 or ord(c) == 0x7F else c)
    return '"' + "".join(out) + '"'


def toml_key(key: str) -> str:
    return key if key and all(c.isascii() and (c.isalnum() or c in "_-") for c in key) else toml_string(key)


def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(doc: dict, as_tables: bool) -> str:
    """Top-level keys as `key = value`; arrays of tables as [[key]] blocks when `as_tables`."""
    lines, blocks = [], []
    for key, value in doc.items():
        if as_tables and isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for entry in value:
                blocks.append(f"[[{toml_key(key)}]]")
                blocks += [f"{toml_key(k)} = {toml_value(v)}" for k, v in entry.items()]
        elif as_tables and isinstance(value, dict):
            blocks.append(f"[{toml_key(key)}]")
            blocks += [f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()]
        else:
            lines.append(f"{toml_key(key)} = {toml_value(value)}")
    return "\n".join(lines + blocks) + "\n"


def assert_loads_or_says_why(load, path: Path) -> None:
    try:
        load(path)
    except InputError as exc:
        text = str(exc)
        assert "\n" not in text and "\r" not in text, text
        assert text.startswith(str(path)), text
        assert len(text) <= LONGEST_ERROR, text


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


# ---------------------------------------------------------------- inventories

SERVICE_KEYS = ["id", "name", "organisation", "tags", "owner", "urls", "mail_domains", "programme", "dkim_selectors",
                "url", "kind", "domain"]
INVENTORY_KEYS = ["service", "exclude", "scope", "inventory", "networks"]

good_urls = st.builds("https://{}.test/{}".format, st.sampled_from(["a", "b", "c", "d", "xn--bcher-kva", "ü"]),
                      st.sampled_from(["", "x", "ä?q=1"]))
url_items = st.one_of(good_urls, st.sampled_from(URLISH), texts,
                      st.fixed_dictionaries({}, optional={"url": st.one_of(st.sampled_from(URLISH), scalars),
                                                          "kind": st.one_of(st.sampled_from(WORDS), scalars)}),
                      values(["url", "kind"]))
services = st.fixed_dictionaries({
    "urls": st.one_of(st.lists(good_urls, min_size=1, max_size=3), st.lists(url_items, max_size=3), url_items),
}, optional={
    "name": st.one_of(texts, values(SERVICE_KEYS)), "id": st.one_of(texts, values(SERVICE_KEYS)),
    "tags": values(SERVICE_KEYS), "dkim_selectors": st.one_of(st.lists(texts, max_size=2), values([])),
    "mail_domains": st.one_of(st.lists(st.sampled_from(URLISH + WORDS)), values(["domain", "dkim_selectors"]),
                              st.lists(st.fixed_dictionaries({"domain": st.one_of(st.sampled_from(WORDS), values([]))},
                                                             optional={"dkim_selectors": values([])}), max_size=2)),
    "organisation": scalars, "owner": scalars, "programme": scalars,
}).flatmap(lambda entry: sometimes(st.dictionaries(keys(SERVICE_KEYS), values(SERVICE_KEYS), max_size=1)).map(
    lambda extra: {**entry, **extra}))
inventories = st.tuples(
    st.fixed_dictionaries({
        "service": st.one_of(st.lists(services, min_size=1, max_size=4), values(SERVICE_KEYS)),
    }, optional={
        "exclude": st.one_of(st.lists(texts, max_size=3), values([])),
        "scope": st.one_of(st.lists(st.sampled_from(WORDS + HOSTILE), max_size=3), values([])),
        "networks": st.one_of(st.lists(st.sampled_from(["10.0.0.0/8", "fd00::/8", "0.0.0.0/0", "10.1.2.3/33",
                                                        "169.254.0.0/16", "x"]), max_size=2), values([])),
    }),
    sometimes(st.fixed_dictionaries({"inventory": st.one_of(
        st.dictionaries(keys(["name", "description"]), texts, max_size=2), values(["name"]))})),
    sometimes(st.dictionaries(keys(INVENTORY_KEYS), values(INVENTORY_KEYS), max_size=1)),
).map(lambda parts: {**parts[0], **parts[1], **parts[2]})


@seed(SEED)
@FUZZ
@given(header=st.lists(st.one_of(st.sampled_from(SERVICE_KEYS), texts), min_size=1, max_size=5),
       rows=st.lists(st.lists(st.one_of(st.sampled_from(URLISH + WORDS), texts), max_size=6), max_size=5),
       raw=st.one_of(st.none(), st.binary(max_size=200)))
def test_any_csv_inventory_loads_or_says_why(folder, header, rows, raw):
    path = folder / "inventory.csv"
    if raw is not None:
        path.write_bytes(raw)
    else:
        buffer = io.StringIO()
        csv.writer(buffer).writerows([header, *rows])
        path.write_text(buffer.getvalue(), encoding="utf-8")
    assert_loads_or_says_why(load_inventory, path)


@seed(SEED)
@FUZZ
@given(lines=st.lists(st.one_of(st.sampled_from(URLISH), texts), max_size=6), raw=st.one_of(st.none(), st.binary()))
def test_any_plain_list_inventory_loads_or_says_why(folder, lines, raw):
    path = folder / "hosts.txt"
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text("\n".join(lines), encoding="utf-8")
    assert_loads_or_says_why(load_inventory, path)


# ---------------------------------------------------------------- policies

CHECK_IDS = [c.id for c in REGISTRY][:40:4] + ["http.*", "mail.*", "nope.check", "*"]
THRESHOLDS = sorted(REGISTRY.thresholds())[:30:3]
POLICY_KEYS = ["policy", "scoring", "grades", "caps", "thresholds", "checks", "waivers", "name", "version", "extends",
               "check", "status", "grade", "reason", "code", "level", "weight", "enabled", "target", "owner", "expires",
               "en", "nl", "warn_fraction", "level_weights", "pillar_weights", "required_fail_cap"]
ids = st.one_of(st.sampled_from(CHECK_IDS), st.sampled_from(CHECK_IDS), texts)  # mostly real, to get past them
numbers = st.one_of(st.integers(-10, 200), st.floats(-1, 200), scalars)
def mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """`good` three times in four, so a document gets past its first mistake and deeper in."""
    return st.one_of(good, good, good, bad)


meta = st.fixed_dictionaries({"name": st.just("fuzz"), "version": st.just("1")},
                             optional={"extends": st.one_of(st.sampled_from([
                                 "bolwerk-baseline@2026.11", "bolwerk-baseline", "p.toml", "missing.toml", "nope@1",
                                 "../p.toml"]), scalars), "title": scalars, "description": scalars})
grades = st.dictionaries(st.sampled_from(["A+", "A", "B", "F", "Z"]), numbers, min_size=1, max_size=4)
policies = st.tuples(st.fixed_dictionaries({"policy": st.one_of(meta, meta, meta, meta, meta, values(POLICY_KEYS)),
                                            "grades": mostly(grades, values(POLICY_KEYS))}, optional={
    "scoring": mostly(st.fixed_dictionaries({}, optional={
        "warn_fraction": numbers, "required_fail_cap": numbers,
        "level_weights": st.dictionaries(st.sampled_from(["required", "optional", "x"]), numbers, max_size=3),
        "pillar_weights": st.dictionaries(st.sampled_from(["tls", "mail", "x"]), numbers, max_size=3)}),
        values(POLICY_KEYS)),
    "caps": mostly(st.lists(st.fixed_dictionaries({"check": ids, "grade": mostly(st.sampled_from(["A+", "B", "F"]), scalars)},
                                                  optional={
        "status": st.one_of(st.lists(st.one_of(st.sampled_from(WORDS), values([])), max_size=3), scalars),
        "reason": st.one_of(texts, st.dictionaries(st.sampled_from(["en", "nl", "fr"]), scalars, max_size=3)),
        "code": scalars}), max_size=3), values(POLICY_KEYS)),
    "thresholds": mostly(st.dictionaries(st.one_of(st.sampled_from(THRESHOLDS), texts), scalars, max_size=3),
                         values(POLICY_KEYS)),
    "checks": mostly(st.dictionaries(ids, mostly(st.fixed_dictionaries({}, optional={
        "level": st.one_of(st.sampled_from(WORDS), scalars), "weight": numbers, "enabled": scalars}),
        values(POLICY_KEYS)), max_size=3), values(POLICY_KEYS)),
    "waivers": mostly(st.lists(st.fixed_dictionaries(
        {"check": ids, "target": texts, "reason": texts, "owner": texts, "expires": mostly(st.dates(), scalars)}),
        max_size=2), values(POLICY_KEYS)),
}), sometimes(st.dictionaries(keys(POLICY_KEYS), values(POLICY_KEYS), max_size=1))).map(
    lambda parts: {**parts[0], **parts[1]})


def load_fuzzed_policy(path: Path) -> None:
    load_policy(str(path), REGISTRY)


TOML_FILES = {"inventory": (inventories, load_inventory), "policy": (policies, load_fuzzed_policy)}


@pytest.mark.parametrize("kind", sorted(TOML_FILES))
@seed(SEED)
@FUZZ
@given(data=st.data(), as_tables=st.booleans())
def test_any_toml_inventory_or_policy_loads_or_says_why(folder, kind, data, as_tables):
    documents, load = TOML_FILES[kind]
    path = folder / f"{kind}.toml"
    path.write_text(toml_document(data.draw(documents, label="document"), as_tables), encoding="utf-8")
    assert_loads_or_says_why(load, path)


@pytest.mark.parametrize("kind", sorted(TOML_FILES))
@seed(SEED)
@FUZZ
@given(raw=st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
def test_any_bytes_as_an_inventory_or_policy_load_or_say_why(folder, kind, raw):
    path = folder / f"raw-{kind}.toml"
    path.write_bytes(raw)
    assert_loads_or_says_why(TOML_FILES[kind][1], path)
