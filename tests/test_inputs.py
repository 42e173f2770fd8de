"""Every file and flag input is checked before a scan starts: bad input is one line naming the
file, flag, entry or line, exit code 2, no traceback, and nothing scanned, stored or written."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import main
from scanner.inputfiles import BASELINE_LIMIT, INVENTORY_LIMIT
from scanner.inventory import load_inventory
from scanner.model import InputError


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)  # a traceback fails the test


def refused(result, *fragments: str) -> str:
    """The one line of a refused command; it names what was wrong."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("bolwerk: error: ") and len(lines[0]) <= 600, lines[0][:1000]
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def inventory_error(tmp_path: Path, name: str, content: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(InputError) as err:
        load_inventory(path)
    text = str(err.value)
    assert "\n" not in text and len(text) <= 600 and text.startswith(str(path))
    return text


SERVICE = '[[service]]\nurls = ["https://a.test/"]\n'


@pytest.mark.parametrize("text, fragment", [
    ('service = ["x"]\n', "inv.toml:1: service[0]: expected a table [[service]], got the string 'x'"),
    ('service = "x"\n', "inv.toml:1: service: expected [[service]] entries, got the string 'x'"),
    ('[service]\nurls = ["https://a.test/"]\n', "inv.toml:1: service: expected [[service]] entries, got a table"),
    ('service = [1, 2]\n', "service[0]: expected a table [[service]], got the number 1"),
    (SERVICE + 'name = ["x"]\n', "service '#1': name: expected a string, got an array"),
    (SERVICE + 'name = 3\n', "name: expected a string, got the number 3"),
    (SERVICE + 'id = false\n', "id: expected a string, got a boolean"),
    (SERVICE + 'id = []\n', "id: expected a string, got an array"),
    (SERVICE + 'organisation = { a = 1 }\n', "organisation: expected a string, got a table"),
    (SERVICE + 'owner = 2026-01-01\n', "owner: expected a string, got the date 2026-01-01"),
    (SERVICE + 'programme = ["a"]\n', "programme: expected a string, got an array"),
    (SERVICE + 'tags = [1]\n', "tags: expected a list of strings, got an array"),
    (SERVICE + 'tags = { a = "b" }\n', "tags: expected a list of strings, got a table"),
    (SERVICE + 'mail_domains = [1]\n', "mail_domains: expected a list of strings, got the number 1"),
    (SERVICE + 'mail_domains = 2\n', "mail_domains: expected a list of domains, got the number 2"),
    (SERVICE + 'mail_domains = [{ domain = "a.test", dkim_selectors = [{}] }]\n', "dkim_selectors: expected a list of strings, got an array"),
    ('[[service]]\nurls = { url = "https://a.test/" }\n', "urls: expected a list of URLs, got a table"),
    ('[[service]]\nurls = 5\n', "urls: expected a list of URLs, got the number 5"),
    ('[[service]]\nurls = [[]]\n', "urls[0]: expected a URL string or a table {url, kind}, got an array"),
    ('[[service]]\nurls = [{ url = 1 }]\n', "urls[0]: url: expected a string, got the number 1"),
    ('[[service]]\nurls = [{ url = "https://a.test/", kind = ["api"] }]\n', "urls[0]: kind: expected a string"),
    ('exclude = { a = 1 }\n' + SERVICE, "inv.toml:1: exclude: expected a list of strings, got a table"),
    ('scope = 1\n' + SERVICE, "inv.toml:1: scope: expected a list of strings, got the number 1"),
    ('scope = ["*.test"]\n' + SERVICE, "inv.toml:1: scope: '*.test' is not a domain name suffix"),
    ('inventory = 1\n' + SERVICE, "inv.toml:1: inventory: expected a table, got the number 1"),
    ('"a\\nb" = 1\n', "a\\nb: unknown key"),  # a key with a line break stays on one line
])
def test_wrong_shapes_in_a_toml_inventory_are_named(tmp_path, text, fragment):
    assert fragment in inventory_error(tmp_path, "inv.toml", text)


def test_csv_and_list_inventories_that_are_not_text(tmp_path):
    assert "inv.csv:3: not a CSV inventory: field larger than field limit" in inventory_error(
        tmp_path, "inv.csv", "urls\nhttps://a.test/\n" + "b" * 200_000 + "\n")
    assert "hosts.txt:2: inventory is not UTF-8 text (byte 16)" in inventory_error(
        tmp_path, "hosts.txt", b"https://a.test/\n\xff\xfe\x00binary\n")


def test_a_huge_inventory_is_refused_unread_and_long_input_is_cut(tmp_path):
    huge = tmp_path / "huge.txt"
    with huge.open("wb") as fh:  # sparse: 50 MB on paper, nothing on disk
        fh.truncate(50 * 1024 * 1024)
    assert INVENTORY_LIMIT < huge.stat().st_size
    res = run("scan", str(huge), "--db", str(tmp_path / "h.db"))
    refused(res, f"{huge}: inventory is larger than 32 MiB")
    one_line = tmp_path / "one-line.txt"
    one_line.write_text("https://" + "a" * 1_000_000 + ".test/\n")
    line = refused(run("scan", str(one_line), "--db", str(tmp_path / "h.db")), f"{one_line}:1: bad URL 'https://aaa")
    assert len(line) < 400
    assert not (tmp_path / "h.db").exists()


@pytest.fixture
def inventory(tmp_path) -> Path:
    path = tmp_path / "hosts.txt"
    path.write_text("https://portaal.vlaanderen.test/\n")
    return path


def scan_refused(tmp_path: Path, inventory: Path, *args: str) -> str:
    """`bolwerk scan` with these flags is refused before anything is stored or written."""
    before = sorted(p.name for p in tmp_path.rglob("*"))
    line = refused(run("scan", str(inventory), "--db", str(tmp_path / "history" / "h.db"), *args))
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # no history, no empty output files
    return line


def test_audit_log_must_be_writable(tmp_path, inventory):
    line = scan_refused(tmp_path, inventory, "--audit-log", str(tmp_path / "missing" / "audit.jsonl"))
    assert f"audit log: the directory {tmp_path / 'missing'} does not exist" in line
    assert f"audit log: {inventory} is not a directory" in scan_refused(
        tmp_path, inventory, "--audit-log", f"{inventory}/audit.jsonl")
    assert "Invalid value for '--audit-log'" in scan_refused(tmp_path, inventory, "--audit-log", str(tmp_path))


def test_trust_anchors_must_be_zone_file_lines(tmp_path, inventory):
    anchor = tmp_path / "anchor.bin"
    anchor.write_bytes(bytes(range(256)))
    assert f"{anchor}:2: trust anchor file is not UTF-8 text (byte 128)" in scan_refused(
        tmp_path, inventory, "--trust-anchor", str(anchor))
    anchor.write_text(". IN DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n"
                      ". IN DS 1 2 3 zz\n")
    assert f"{anchor}: not a trust anchor file (zone-file DS/DNSKEY lines): Non-hexadecimal digit found" in scan_refused(
        tmp_path, inventory, "--trust-anchor", str(anchor))
    anchor.write_text("; only a comment\n")
    assert "no DS or DNSKEY record" in scan_refused(tmp_path, inventory, "--trust-anchor", str(anchor))


def test_a_ca_bundle_must_hold_a_certificate(tmp_path, inventory):
    bundle = tmp_path / "roots.pem"
    bundle.write_text("this is no certificate\n")
    assert f"{bundle}: no certificate in this CA bundle (expected PEM roots)" in scan_refused(
        tmp_path, inventory, "--ca-bundle", str(bundle))
    bundle.write_bytes(b"-----BEGIN CERTIFICATE-----\n\x00\xff garbage\n-----END CERTIFICATE-----\n")
    assert "no certificate in this CA bundle" in scan_refused(tmp_path, inventory, "--ca-bundle", str(bundle))


@pytest.mark.parametrize("flag", ["--json", "--ndjson", "--sarif", "--junit", "--csv", "--markdown"])
def test_outputs_are_checked_before_the_scan(tmp_path, inventory, flag):
    assert f"{inventory}/r: {flag}: {inventory} is not a directory" in scan_refused(
        tmp_path, inventory, flag, f"{inventory}/r")
    line = scan_refused(tmp_path, inventory, "--json", "-", flag, str(tmp_path))
    assert f"Invalid value for '{flag}'" in line and "is a directory (see `main scan --help`)" in line


def test_out_folder_and_other_scan_flags(tmp_path, inventory):
    assert "Invalid value for '--out'" in scan_refused(tmp_path, inventory, "--out", str(inventory))
    assert f"{inventory}/x: --out: {inventory} is not a directory" in scan_refused(
        tmp_path, inventory, "--out", f"{inventory}/x")
    assert "--scope: 'not a suffix' is not a domain name suffix" in scan_refused(
        tmp_path, inventory, "--scope", "not a suffix")
    ports = tmp_path / "ports.json"
    ports.write_text("[[1, 2]]")
    assert "not a port map" in scan_refused(tmp_path, inventory, "--lab-port-map", str(ports))


def test_gate_baseline_of_the_wrong_shape(tmp_path):
    baseline = tmp_path / "base.json"
    common = ["gate", "https://portaal.vlaanderen.test/", "--db", str(tmp_path / "h.db"), "--baseline", str(baseline)]
    shape = {"schema": "bolwerk/scan-result/v1", "run": [], "services": [{"id": "a", "findings": ["x"]}]}
    baseline.write_text(json.dumps(shape))
    refused(run(*common), f"{baseline}: services[0].findings[0]: not a finding")
    baseline.write_text("[" * 100_000 + "]" * 100_000)
    refused(run(*common), f"{baseline}: baseline is not JSON")
    with baseline.open("wb") as fh:
        fh.truncate(BASELINE_LIMIT + 1)
    refused(run(*common), f"{baseline}: baseline is larger than 256 MiB")
    assert not (tmp_path / "h.db").exists()


def test_report_and_rescore_check_outputs_before_any_work(lab_scan, tmp_path):
    _, stored, run_id = lab_scan
    db = tmp_path / "h.db"
    shutil.copy(stored, db)
    blocker = tmp_path / "file"
    blocker.write_text("")
    refused(run("rescore", run_id, "--policy", "bolwerk-baseline@2026.11", "--db", str(db),
                "--json", str(tmp_path / "ok.json"), "--sarif", f"{blocker}/r.sarif"), "--sarif")
    connection = sqlite3.connect(db)
    assert connection.execute("SELECT count(*) FROM runs").fetchone() == (1,)  # no rescored run left behind
    connection.close()
    refused(run("report", "--db", str(db), "--csv", f"{blocker}/f.csv", "--json", str(tmp_path / "ok.json")), "--csv")
    assert not (tmp_path / "ok.json").exists()


def test_demo_refuses_an_out_that_is_a_file_before_starting_the_lab(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    refused(run("demo", "--out", f"{blocker}/demo"), f"{blocker}/demo: --out: {blocker} is not a directory")


def test_gate_takes_a_missing_inventory_file_for_what_it_is(tmp_path):
    """`bolwerk gate services.toml` with a typo in the path: not found, not a host named services.toml."""
    refused(run("gate", str(tmp_path / "servcies.toml"), "--db", str(tmp_path / "h.db")),
            "servcies.toml: inventory file not found")


def test_a_policy_status_of_the_wrong_shape_is_named(tmp_path):
    from checks.registry import default_registry
    from scanner.policy import load_policy

    policy = tmp_path / "p.toml"
    policy.write_text('[policy]\nname = "x"\nversion = "1"\n[grades]\nA = 85\n'
                      '[[caps]]\ncheck = "tls.protocol.tls10"\ngrade = "B"\nstatus = [["fail"]]\n')
    with pytest.raises(InputError, match=r"p.toml:9: caps\[0\].status: unknown status \['fail'\]"):
        load_policy(str(policy), default_registry())
