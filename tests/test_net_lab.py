"""Issue 11 against the lab: a hostile or simply large estate never breaks a run.

- every address of a set is judged on its own by one address policy: the proof is the
  scanner's own records (its audit log) and the test-wide socket guard (an audit hook that
  records any connection beyond loopback, and fails the session if there was one);
- a redirect to a URL clients read differently (credentials, a backslash) is a finding about
  the site: a graded service and a gate FAIL, never "could not scan";
- a page that is quadratic for html.parser, scanned beside ten healthy services, costs the
  healthy ones nothing (their facts complete, their grades those of the demo scan);
- 500 entries behind one slow address: no target is blamed for the scanner's own queue.

Nothing here times the scanner (performance is bench/'s business): what is observed is
which facts are complete and what the records say.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from scanner.cli import main
from tests import conftest
from tests.conftest import lab_inventory, scan_lab

FORBIDDEN = {"169.254.169.254", "169.254.7.7", "fd00:ec2::254", "10.20.30.40", "10.20.30.41", "10.20.30.53"}
HEALTHY = ["burgerprofiel", "belastingaangifte", "archiefbank", "erfgoedinventaris", "omgevingsloket-acc",
           "onderwijs", "wegenwerken", "gent-eloket", "vdab-vacatures-api", "kind-en-gezin"]


def _errors(facts) -> list[str]:
    """Every `error` text anywhere in an endpoint's or domain's facts."""
    out = []
    if isinstance(facts, dict):
        for key, value in facts.items():
            if key == "error" and isinstance(value, str):
                out.append(value)
            else:
                out += _errors(value)
    elif isinstance(facts, list):
        for item in facts:
            out += _errors(item)
    return out


def _service(result, sid):
    return next(s for s in result["services"] if s["id"] == sid)


def _finding(svc, check):
    return next(f for f in svc["findings"] if f["check"] == check)


@pytest.fixture(scope="module")
def hostile_addresses(lab, tmp_path_factory):
    """The address cases scanned once, with an audit log and `--scope netproef.test` (so the
    redirect to metadata.netproef.test is in scope, and only the address policy stands in its way)."""
    tmp = tmp_path_factory.mktemp("net-addresses")
    guard_before = len(conftest.violations)
    inventory = lab_inventory(lab, ["net-gemengd", "net-lek", "net-metadata", "net-doorverwijzing", "net-intern-mx"],
                              tmp / "inventory.toml")
    result, _, _ = scan_lab(lab, inventory, tmp / "history.db", audit_log=tmp / "audit.jsonl",
                            scope=("netproef.test",))
    audit = [json.loads(line) for line in (tmp / "audit.jsonl").read_text().splitlines()]
    return result, audit, conftest.violations[guard_before:]


def test_no_connection_ever_reaches_a_refused_address(hostile_addresses):
    """The scanner's records show each forbidden address refused, none opened or tried; the
    socket guard saw no connection, datagram or lookup beyond loopback during the scan."""
    _, audit, guard = hostile_addresses
    assert guard == []
    touched = [r for r in audit if r["ip"] in FORBIDDEN]
    assert {r["ip"] for r in touched} == FORBIDDEN  # each was met (and judged) ...
    assert all(r["outcome"].startswith("refused: ") for r in touched), [r for r in touched
                                                                        if not r["outcome"].startswith("refused")]
    purposes = {(r["ip"], r["purpose"]) for r in touched}
    assert ("169.254.169.254", "endpoint") in purposes  # an inventory name's A set (and the --scope name's)
    assert ("169.254.169.254", "http") in purposes  # a redirect to a --scope name that answers it
    assert ("10.20.30.41", "smtp") in purposes  # an MX in private space
    assert any(ip == "10.20.30.53" and p.startswith("dns-") for ip, p in purposes)  # a name server there


def test_a_mixed_address_set_is_probed_on_its_allowed_address_only(hostile_addresses, lab):
    result, audit, _ = hostile_addresses
    svc = _service(result, "net-gemengd")
    endpoint = svc["endpoints"][0]
    assert endpoint["addresses"] == lab.addresses["gemengd.netproef.test"]  # the lab's own address, nothing else
    refused = {r["ip"]: r["kind"] for r in endpoint["facts"]["dns"]["refused_addresses"]}
    assert refused == {"169.254.169.254": "metadata", "169.254.7.7": "link-local", "fd00:ec2::254": "metadata"}
    assert endpoint["facts"]["tls"]["protocols"]["TLSv1.3"] is True and endpoint["facts"]["http"]["status"] == 200
    assert _finding(svc, "dns.addresses.special")["status"] == "fail"
    assert svc["grade"] != "incomplete"
    lek = _service(result, "net-lek")
    assert _finding(lek, "dns.addresses.special")["status"] == "warn"  # private space: a warning
    assert lek["endpoints"][0]["addresses"] == lab.addresses["lek.netproef.test"]


def test_a_name_that_only_answers_metadata_is_not_contacted(hostile_addresses):
    result, _, _ = hostile_addresses
    svc = _service(result, "net-metadata")
    endpoint = svc["endpoints"][0]
    assert endpoint["addresses"] == []
    assert "has no address the scan may contact" in endpoint["facts"]["http"]["error"]
    assert "metadata" in endpoint["facts"]["http"]["error"]
    assert _finding(svc, "dns.addresses.special")["status"] == "fail"


def test_a_redirect_to_a_scope_name_answering_metadata_is_not_followed(hostile_addresses):
    result, _, _ = hostile_addresses
    chain = _service(result, "net-doorverwijzing")["endpoints"][0]["facts"]["http"]["http_chain"]
    assert chain[-1]["url"] == "http://metadata.netproef.test/latest/meta-data/"
    assert chain[-1]["not_followed"] is True and "169.254.169.254" in chain[-1]["error"]


def test_an_mx_in_private_space_is_refused_unless_allowed(hostile_addresses, lab, tmp_path):
    result, _, _ = hostile_addresses
    domain = next(d for d in _service(result, "net-intern-mx")["mail_domains"] if d["domain"] == "binnenpost.test")
    mx = domain["facts"]["mail"]["mx"][0]
    assert mx["addresses"] == [] and mx["refused_addresses"][0]["ip"] == "10.20.30.41"
    assert "private" in mx["error"]


def test_only_private_networks_can_be_allowed_and_never_open_metadata(tmp_path):
    """--allow-network and the inventory's `networks` open private space alone, never a
    metadata address inside it; anything else is refused before the scan starts (exit 2)."""
    from scanner.probes.net import AddressPolicy
    from scanner.standards.addresses import private_network

    policy = AddressPolicy.of_scan([], [private_network("10.0.0.0/8"), private_network("fd00::/8")])
    assert policy.refusal("10.20.30.41") is None and "metadata" in policy.refusal("fd00:ec2::254")
    listed = tmp_path / "inventory.txt"
    listed.write_text("https://www.gent.test/\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["scan", str(listed), "--allow-network", "169.254.0.0/16"])
    assert result.exit_code == 2 and "--allow-network: 169.254.0.0/16 reaches into link-local space" in result.stderr
    toml = tmp_path / "inventory.toml"
    toml.write_text('networks = ["10.0.0.0/8", "127.0.0.0/8"]\n[[service]]\nurls = ["https://www.gent.test/"]\n',
                    encoding="utf-8")
    result = CliRunner().invoke(main, ["scan", str(toml)])
    assert result.exit_code == 2 and f"{toml}:1: networks" in result.stderr and "loopback" in result.stderr


# -------------------------------------------------------------------- URLs clients read differently


@pytest.mark.parametrize("sid, reason", [("net-inlog-redirect", "credentials"), ("net-backslash-redirect", "backslash")])
def test_an_unusable_redirect_is_a_finding_about_the_site(lab_scan_all, sid, reason):
    svc = _service(lab_scan_all[0], sid)
    assert svc["grade"] == "C"  # graded: every required check could run
    redirect = _finding(svc, "http.redirect")
    assert redirect["status"] == "fail" and reason in redirect["message"]
    assert "Geheim123" not in json.dumps(svc) and "beheer" not in json.dumps(svc)  # never in facts or findings
    http = svc["endpoints"][0]["facts"]["http"]
    assert http["https"] is True and http["status"] == 301 and http["https_chain"][0]["location_error"]


@pytest.mark.parametrize("url", ["https://inlog-redirect.netproef.test/", "https://backslash-redirect.netproef.test/"])
def test_the_gate_fails_an_unusable_redirect_instead_of_could_not_scan(lab_args, url):
    result = CliRunner().invoke(main, ["gate", url, "--policy", "bolwerk-baseline@2026.11", *lab_args])
    assert result.exit_code == 1, result.stderr
    assert "gate: FAIL" in result.stderr.splitlines()[-1]


# -------------------------------------------------------------------- CPU: a pathological page


def test_a_pathological_page_does_not_delay_healthy_services(lab, lab_scan, tmp_path):
    """112 KiB of "<a " (html.parser: minutes) beside ten healthy services: the healthy ones
    finish with every fact they get in the demo scan and the same grades; the page itself is
    parsed (in a CPU worker) to a bounded result."""
    inventory = lab_inventory(lab, ["net-zwaar", *HEALTHY], tmp_path / "inventory.toml")
    result, _, _ = scan_lab(lab, inventory, tmp_path / "history.db", timeout=10.0)
    assert result["run"]["complete"] is True
    demo = {s["id"]: s for s in lab_scan[0]["services"]}
    for sid in HEALTHY:
        svc = _service(result, sid)
        late = [e for ep in svc["endpoints"] for e in _errors(ep["facts"]) if "did not finish" in e]
        assert late == [], (sid, late)
        assert svc["grade"] == demo[sid]["grade"], (sid, svc["caps"], demo[sid]["caps"])
    page = _service(result, "net-zwaar")["endpoints"][0]["facts"]["http"]
    assert page["status"] == 200 and page["body_truncated"] is False
    assert page["html"] == {"meta_csp": [], "meta_referrers": [], "scripts": [], "stylesheets": [], "insecure": [],
                            "inline_scripts": 0}


# -------------------------------------------------------------------- the scanner's queue is not the target's time


def test_five_hundred_entries_behind_one_slow_address_get_no_false_timeouts(lab, tmp_path):
    """Every name under traag.netproef.test is one server that answers after 50 ms. With the
    default caps (2 per host, 4 per address), 100 endpoints in flight (three connections each:
    https refused, http, CORS) queue for the same 4 slots longer than a request's deadline
    (2 x 1 s; with the deadline running in the queue, most of them failed). Only the time
    after a slot is had counts against the target, so every endpoint is measured. (The HTTP
    probe alone runs: its requests are what the deadlines bound.)"""
    from checks.registry import default_registry
    from reports.json import build_result
    from scanner.inventory import load_inventory
    from scanner.policy import load_policy
    from scanner.probes.http.probe import PROBE as HTTP
    from scanner.runner import Runner
    from scanner.store import Store

    inventory = tmp_path / "inventory.txt"
    inventory.write_text("".join(f"http://e{n}.traag.netproef.test/\n" for n in range(500)), encoding="utf-8")
    options = conftest.lab_options(lab, concurrency=100, io_timeout=1.0, timeout=10.0, rate_per_ip=10_000.0)
    assert (options.per_host, options.per_ip) == (2, 4)  # the default caps
    registry = default_registry()
    store = Store(tmp_path / "history.db")
    run_id = Runner(options, registry, load_policy(None, registry), store, probes=[HTTP]).scan(load_inventory(inventory))
    result = build_result(store, run_id)
    store.close()
    assert result["run"]["complete"] is True and len(result["services"]) == 500
    for svc in result["services"]:
        http = svc["endpoints"][0]["facts"]["http"]
        errors = _errors(http)
        assert not [e for e in errors if "within" in e or "scanner limit" in e], (svc["id"], errors)
        assert http.get("status") == 200 and http["cors"].get("status") == 200, (svc["id"], http["http_chain"], http.get("https_chain"), http.get("cors"))
