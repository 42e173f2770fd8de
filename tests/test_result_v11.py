"""Contract v1.1 (reports/hoist.py, docs/result-v1.1.md): what repeats written once, and
expanded back to exactly the v1 result; the gate reads either as a baseline."""

import hashlib
import io
import json
import re

import jsonschema
import pytest
from click.testing import CliRunner

import reports.common
import reports.json
from reports.common import ENTRIES, ITEMS, schema, stream_document
from reports.hoist import REF, SCHEMA_V1, SCHEMA_V11, ResultError, expand
from reports.json import build_result, stored_result, write_json
from reports.outputs import Outputs, write_run
from scanner.cli import main
from scanner.gate import Baseline
from scanner.model import InputError
from scanner.short_findings import group_id
from scanner.store import Store

DIGEST = re.compile(r"^[0-9a-f]{20}$")


@pytest.fixture(scope="module")
def estate(lab_scan_all, tmp_path_factory):
    """The whole lab estate (test-only services too) written as v1 and as v1.1 from its store."""
    _, db, run_id = lab_scan_all
    out = tmp_path_factory.mktemp("v11")
    store = Store(db)
    for contract in ("v1", "v1.1"):
        write_json(stored_result(store, run_id), out / f"{contract}.json", contract)
    store.close()
    return out / "v1.json", out / "v1.1.json"


def refs(obj):
    """Every digest a document refers to, wherever it stands."""
    if isinstance(obj, dict):
        if REF in obj:
            yield obj[REF]
        for v in obj.values():
            yield from refs(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from refs(v)


def test_v11_of_the_whole_lab_estate_expands_to_exactly_v1(estate):
    v1_file, v11_file = estate
    v1, v11 = (json.loads(p.read_text(encoding="utf-8")) for p in estate)
    assert v1["schema"] == SCHEMA_V1 and v11["schema"] == SCHEMA_V11
    jsonschema.validate(v11, schema("v1.1"))
    expanded = expand(v11)
    assert expanded == v1
    jsonschema.validate(expanded, schema())
    assert expand(v1) is v1  # a v1 document is read as it is
    assert v11_file.stat().st_size < 0.6 * v1_file.stat().st_size


def test_every_reference_resolves_and_every_entry_is_its_digest(estate):
    v11 = json.loads(estate[1].read_text(encoding="utf-8"))
    table = v11["shared"]
    named = set(refs(v11["services"])) | set(refs(list(table.values())))
    for svc in v11["services"]:
        named |= {e if isinstance(e, str) else e[REF] for items in svc.get("short_findings", {}).values() for e in items}
    assert named == set(table)  # nothing dangles, nothing is kept that nothing names
    for digest, body in table.items():
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert DIGEST.match(digest) and hashlib.sha256(text.encode()).hexdigest()[:20] == digest


def test_a_pass_finding_is_short_and_a_failing_one_whole(estate):
    v1, v11 = (json.loads(p.read_text(encoding="utf-8")) for p in estate)
    svc1 = next(s for s in v1["services"] if any(f["status"] == "pass" for f in s["findings"])
                and any(f["status"] == "fail" for f in s["findings"]))
    svc11 = next(s for s in v11["services"] if s["id"] == svc1["id"])
    passed = next(f for f in svc1["findings"] if f["status"] == "pass" and "subject" not in f)
    assert passed not in svc11["findings"] and {f["status"] for f in svc11["findings"]} <= {"fail", "warn", "error",
                                                                                           "waived"}
    entries = svc11["short_findings"][passed["target"]]
    body = {k: v for k, v in passed.items() if k not in ("id", "target")}
    assert any(e == hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
                                   .encode()).hexdigest()[:20] for e in entries)  # in place: its body's digest
    failing = [f for f in svc1["findings"] if f["status"] == "fail"]
    assert failing and all(f in svc11["findings"] for f in failing)  # written whole, as in v1


def test_a_forgotten_digest_is_kept_once_all_the_same(estate, lab_scan_all, tmp_path, monkeypatch):
    """The writer remembers few digests; the spool still keeps each entry once: the same bytes."""
    monkeypatch.setattr(reports.hoist, "RECENT", 2)
    store = Store(lab_scan_all[1])
    write_json(stored_result(store, lab_scan_all[2]), tmp_path / "small.json")
    store.close()
    assert (tmp_path / "small.json").read_bytes() == estate[1].read_bytes()


def service(findings, facts):
    return {"id": "s", "name": "s", "organisation": "", "tags": [], "owner": "", "score": 50.0, "grade": "C",
            "caps": [], "caps_detail": [], "pillars": {}, "source": None, "mail_domains": [],
            "endpoints": [{"target": "https://a.test/", "host": "a.test", "port": 443, "kind": "web",
                           "addresses": ["127.0.0.1"], "facts": facts, "collected": True}],
            "findings": findings}


def finding(check, status, target="https://a.test/", **more):
    return {"id": hashlib.sha256(check.encode()).hexdigest()[:20], "check": check, "pillar": "http",
            "level": "recommended", "severity": "low", "status": status, "target": target, "message": check,
            "evidence": more.pop("evidence", {}), **more}


def round_trip(services, tmp_path):
    v1 = {"schema": SCHEMA_V1, "run": {"id": "r", "policy": "p@1"}, "services": services}
    write_json(v1, tmp_path / "r.json")
    v11 = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert expand(v11) == v1
    return v11


def test_what_a_server_names_like_a_reference_stays_a_value(tmp_path):
    """A header named `$ref` (a token is allowed to be that) or `$value` is a value, never followed."""
    headers = {"$ref": "0123456789abcdef0123", "server": "x" * 300}
    facts = {"http": {"headers": {"$ref": "nothing"}, "later": [{"$value": {"a": 1}}, {"headers": headers}]}}
    evidence = {"headers": {"$ref": "nothing", "$value": 1}}
    v11 = round_trip([service([finding("http.a", "fail", evidence=evidence),
                               finding("http.b", "pass", evidence=evidence)], facts)], tmp_path)
    assert v11["services"][0]["endpoints"][0]["facts"]["http"]["headers"] == {"$value": {"$ref": "nothing"}}


def test_findings_out_of_v1_order_are_written_whole(tmp_path):
    out_of_order = [finding("http.b", "pass"), finding("http.a", "pass")]
    v11 = round_trip([service(out_of_order, {})], tmp_path)
    assert v11["services"][0]["findings"] == out_of_order and "short_findings" not in v11["services"][0]


def test_a_finding_of_a_subject_or_with_an_own_id_says_so(tmp_path):
    mx = "smtp://mx.test:25"
    by_subject = finding("mail.a", "pass", target=mx, subject="a.test")
    by_subject["id"] = group_id("mail.a", mx, "a.test")
    own_id = dict(finding("mail.b", "pass"), id="0" * 20)
    v11 = round_trip([service([by_subject, own_id], {})], tmp_path)
    short = v11["services"][0]["short_findings"]
    assert [{k: v for k, v in e.items() if k != REF} for e in short["a.test"]] == [{"target": mx}]
    assert [{k: v for k, v in e.items() if k != REF} for e in short["https://a.test/"]] == [{"id": "0" * 20}]


@pytest.mark.parametrize("table", [{}, {"a" * 20: {REF: "a" * 20}}], ids=["dangling", "cyclic"])
def test_a_broken_table_is_a_result_error(table):
    doc = {"schema": SCHEMA_V11, "run": {}, "services": [service([], {"x": {REF: "a" * 20}})], "shared": table}
    with pytest.raises(ResultError):
        expand(doc)


def test_gate_reads_a_baseline_of_either_contract(estate):
    v1, v11 = (Baseline.load(path) for path in estate)
    assert v1.failing and v1.failing == v11.failing and v1.grades == v11.grades and v1.policy == v11.policy


def test_json_schema_option_chooses_the_contract(lab_scan, tmp_path):
    _, db, run_id = lab_scan
    default = CliRunner().invoke(main, ["report", "--db", str(db), "--json", "-"], catch_exceptions=False)
    v1 = CliRunner().invoke(main, ["report", "--db", str(db), "--json", "-", "--json-schema", "v1"],
                            catch_exceptions=False)
    assert json.loads(default.stdout)["schema"] == SCHEMA_V11 and json.loads(v1.stdout)["schema"] == SCHEMA_V1
    store = Store(db)
    assert expand(json.loads(default.stdout)) == json.loads(v1.stdout) == json.loads(
        json.dumps(build_result(store, run_id)))
    store.close()


def test_report_out_writes_results_json_beside_the_dashboard_and_names_a_folder_it_cannot_write(
        lab_scan, tmp_path):
    _, db, run_id = lab_scan
    store = Store(db)
    written = write_run(store, run_id, Outputs(out=tmp_path / "ok", workers=2))
    assert expand(json.loads((tmp_path / "ok" / "results.json").read_text(encoding="utf-8"))) == json.loads(
        json.dumps(build_result(store, run_id))) and written["run"]["id"] == run_id
    (tmp_path / "taken" / "results.json").mkdir(parents=True)  # a folder where the file goes
    with pytest.raises(InputError) as caught:
        write_run(store, run_id, Outputs(out=tmp_path / "taken", workers=2))
    store.close()
    assert caught.value.where == str(tmp_path / "taken") and "cannot write" in caught.value.message


def test_report_out_raises_what_putting_results_json_together_raised(lab_scan, tmp_path, monkeypatch):
    _, db, run_id = lab_scan

    def broken(spools):
        raise ValueError(f"{len(spools)} spool(s) unreadable")
    monkeypatch.setattr(reports.json, "merged_table", broken)
    store = Store(db)
    with pytest.raises(ValueError, match="spool"):
        write_run(store, run_id, Outputs(out=tmp_path, workers=2))
    store.close()
    assert not (tmp_path / "dashboard").exists()  # the dashboard waits for results.json, and is not put in place


@pytest.mark.parametrize("write_chars", [1, 40, 1 << 16])
def test_a_streamed_document_is_the_whole_document_however_its_members_are_gathered(monkeypatch, write_chars):
    """stream_document writes its members some WRITE_CHARS at a time: the text is the same."""
    monkeypatch.setattr(reports.common, "WRITE_CHARS", write_chars)
    items = [{"n": n, "text": "ë" * n, "big": 2**70 + n} for n in range(7)]  # an integer orjson refuses
    table = {f"{n:020x}": {"v": [n] * n} for n in range(5)}
    entries = [f'"{key}":{json.dumps(value, separators=(",", ":"))}' for key, value in table.items()]
    out = io.StringIO()
    stream_document(out, {"schema": "x", "services": ITEMS, "shared": ENTRIES}, iter(items), entries=iter(entries))
    lines = [json.dumps(item, sort_keys=True, separators=(",", ":"), ensure_ascii=False) for item in items]
    assert out.getvalue() == ('{"schema":"x","services":[\n' + ",\n".join(lines) + '\n],"shared":{\n'
                              + ",\n".join(entries) + "\n}}\n")
    document = {"runs": [{"results": ITEMS, "tool": "t"}]}
    out = io.StringIO()
    stream_document(out, document, iter(items), indent=2, sort_keys=False)
    whole = {"runs": [{"results": items, "tool": "t"}]}
    assert out.getvalue() == json.dumps(whole, indent=2, ensure_ascii=False) + "\n"
