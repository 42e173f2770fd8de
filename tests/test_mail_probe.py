"""The mail probe against the lab (scanner/lab/estate.d/mail.toml): what it collects, and each
lab mail domain's verdicts as a full scan gives them."""

import asyncio

import pytest

from scanner.probes.mail.probe import dkim, dmarc, mta_sts, spf
from scanner.standards import spf as spf_std
from tests.conftest import probe_context


def run(lab, probe, *args):
    async def scenario():
        ctx = probe_context(lab.resolver, port_map=lab.port_map, io_timeout=2.0)
        ctx.ca_bundle = lab.ca_bundle
        return await probe(ctx, *args)
    return asyncio.run(scenario())


def test_spf_collects_every_answer_the_walk_needs(lab):
    redirected = run(lab, spf, "oudenaarde.test")  # redirect=_spf.%{d}: expanded, not looked up as written
    assert redirected["all"] == "-all" and redirected["lookups"] == 1
    assert [(a["type"], a["name"]) for a in redirected["dns"]] == [("TXT", "oudenaarde.test"), ("TXT", "_spf.oudenaarde.test")]
    looped = run(lab, spf, "menen.test")
    walk = spf_std.evaluate("menen.test", looped["dns"])
    assert walk.permerror.code == "spf_include_loop" and not walk.missing
    void = run(lab, spf, "ninove.test")
    assert void["void_lookups"] == 3 and {a["rcode"] for a in void["dns"][1:]} >= {"NXDOMAIN"}
    assert run(lab, spf, "vdab.test")["dns"][0]["records"] == ["v=spf1 -all"]


def test_dmarc_looks_up_the_authorisation_of_external_destinations(lab):
    facts = run(lab, dmarc, "temse.test")
    by_host = {e["host"]: e for e in facts["external"]}
    assert set(by_host) == {"rapporten.test", "elders.test"}  # dmarc@temse.test needs no authorisation
    assert by_host["rapporten.test"]["records"] == ["v=DMARC1"]
    assert by_host["elders.test"]["name"] == "temse.test._report._dmarc.elders.test"
    assert by_host["elders.test"]["rcode"] == "NXDOMAIN" and by_host["elders.test"]["records"] == []


def test_mta_sts_collects_the_policy_as_served(lab):
    good = run(lab, mta_sts, "aarschot.test")
    assert good["policy_status"] == 200 and good["content_type"] == "text/plain"
    assert good["policy"].startswith("version: STSv1\r\n") and good["mode"] == "enforce"
    assert good["certificate"] == {"trusted": True, "hostname_match": True, "trust_error": None}
    large = run(lab, mta_sts, "vilvoorde.test")
    assert large["policy_truncated"] is True and "policy" not in large  # never stored past the cap
    moved = run(lab, mta_sts, "halle.test")
    assert moved["policy_status"] == 301 and moved["policy_location"].startswith("https://mta-sts.vlaanderen.test/")
    assert run(lab, mta_sts, "boom.test")["certificate"]["hostname_match"] is False
    assert run(lab, mta_sts, "gent.test") == {"record": None, "records": [], "mode": None}  # no record: no fetch


def test_dkim_asks_only_for_the_named_selectors(lab):
    facts = run(lab, dkim, "aarschot.test", ("ed", "ontbreekt"))
    keys = {k["selector"]: k for k in facts["keys"]}
    assert keys["ed"]["records"][0].startswith("v=DKIM1; k=ed25519") and keys["ontbreekt"]["rcode"] == "NXDOMAIN"
    assert run(lab, dkim, "aarschot.test", ()) == {"selectors": [], "keys": []}


# -- the lab's mail domains, scanned ---------------------------------------------------------------

MAIL_CASES = [
    ("damme.test", "mail.spf", "fail", "'ip4:192.0.2.0/99': prefix length out of range"),
    ("damme.test", "mail.dmarc", "pass", "p=reject"),
    ("menen.test", "mail.spf", "fail", "include loop: menen.test → a._spf.menen.test → b._spf.menen.test"),
    ("menen.test", "mail.spf.lookups", "fail", "include loop"),
    ("ninove.test", "mail.spf.lookups", "fail", "3 lookups without an answer"),
    ("mol.test", "mail.spf", "fail", "include:tekst.mol.test points at a domain without an SPF record"),
    ("oudenaarde.test", "mail.spf", "pass", "SPF ends in -all"),
    ("geel.test", "mail.spf", "pass", "SPF ends in -all"),
    ("geel.test", "mail.spf.ptr", "warn", "'ptr'"),
    ("geel.test", "mail.spf.after_all", "warn", "'mx' comes after 'all'"),
    ("geel.test", "mail.spf.exp", "warn", "exp=uitleg.geel.test"),
    ("lokeren.test", "mail.dmarc", "fail", "p=none: spoofed mail is delivered"),
    ("hamme.test", "mail.dmarc.reporting", "warn", "rua= holds no valid URI (dmarc@hamme.test)"),
    ("zele.test", "mail.dmarc.removed_tags", "warn", "pct= was removed by RFC 9989"),
    ("zele.test", "mail.dmarc.rua_count", "warn", "3 rua addresses"),
    ("aarschot.test", "mail.mta_sts", "pass", "MTA-STS mode: enforce"),
    ("aarschot.test", "mail.tls_rpt", "pass", "TLS reports go to mailto:tls@aarschot.test"),
    ("diest.test", "mail.mta_sts", "fail", "served as 'text/html; charset=utf-8'"),
    ("halle.test", "mail.mta_sts", "fail", "senders do not follow redirects"),
    ("vilvoorde.test", "mail.mta_sts", "fail", "larger than 64 KiB"),
    ("zaventem.test", "mail.mta_sts", "fail", "mode Enforce is not enforce"),
    ("boom.test", "mail.mta_sts", "fail", "does not name the mta-sts host"),
    ("asse.test", "mail.mta_sts", "fail", "id=ditisveeltelangvooreenidvanmtasts is not 1 to 32"),
    ("asse.test", "mail.tls_rpt", "fail", "'tls@asse.test' is no URI"),
]


@pytest.fixture(scope="module")
def mail_findings(lab_scan_all):
    """(subject, check) -> [(status, message, target)] over every lab service."""
    out = {}
    for svc in lab_scan_all[0]["services"]:
        for f in svc["findings"]:
            if f["pillar"] == "mail":
                out.setdefault((f.get("subject", f["target"]), f["check"]), []).append(
                    (f["status"], f["message"], f["target"]))
    return out


@pytest.mark.parametrize("domain, check_id, expected, words", MAIL_CASES, ids=[f"{c[0]}-{c[1]}" for c in MAIL_CASES])
def test_lab_mail_domain_verdicts(mail_findings, domain, check_id, expected, words):
    (status, message, _), = mail_findings[(domain, check_id)]
    assert status == expected and words in message, message


def test_lab_external_report_destinations(mail_findings):
    found = {target: None for _, _, target in mail_findings[("temse.test", "mail.dmarc.external_reports")]}
    statuses = sorted(s for s, _, _ in mail_findings[("temse.test", "mail.dmarc.external_reports")])
    assert statuses == ["fail", "pass"] and list(found) == ["temse.test"]


def test_lab_dkim_selectors(mail_findings):
    by_target = {t: (s, m) for s, m, t in mail_findings[("aarschot.test", "mail.dkim")]}
    assert by_target["sel2048._domainkey.aarschot.test"][0] == "pass"
    assert by_target["ed._domainkey.aarschot.test"] == ("pass", "selector ed: ed25519 key of 256 bits")
    assert by_target["sel1024._domainkey.aarschot.test"][0] == "warn"
    assert by_target["oud._domainkey.aarschot.test"][0] == "fail"  # revoked
    assert by_target["ontbreekt._domainkey.aarschot.test"][0] == "fail"
    (status, message, _), = mail_findings[("lommel.test", "mail.dkim")]
    assert status == "info" and "cannot be proven without the selector" in message


def test_lab_dane_matches_tlsa_against_the_served_chain(mail_findings):
    by_target = {t: (s, m) for s, m, t in mail_findings[("lommel.test", "mail.dane")]}
    assert by_target["smtp://mx.lommel.test:25"] == ("pass", "a signed DANE-EE TLSA record matches the served certificate")
    assert by_target["smtp://mx2.lommel.test:25"][0] == "fail"  # RFC 7672: a usable set matching nothing
    assert {s for s, _, _ in mail_findings[("lommel.test", "mail.starttls.certificate")]} == {"pass"}
