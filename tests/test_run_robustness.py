"""A run is never lost by one service: finding ids are unique by construction, and a service
whose judgement fails is graded `incomplete` with the reason while the rest is kept."""

import dataclasses
import hashlib

from checks.registry import Registry, default_registry, failed, passed
from scanner.judge import judge_run
from scanner.model import Finding, Level, Severity, Status, finding_id
from scanner.policy import load_policy
from scanner.store import Store
from tests.conftest import probe_context, scan_lab

REGISTRY = default_registry()
POLICY = load_policy(None, REGISTRY)
NOW_TEXT = "2026-11-28T12:00:00Z"


def _finding(target: str, subject: str) -> Finding:
    return Finding("mail.starttls", "mail", Level.REQUIRED, Severity.HIGH, Status.FAIL, target, "", subject=subject)


def test_endpoint_finding_ids_are_those_of_earlier_releases():
    """Baselines keep matching: a finding on its own subject keeps the fingerprint of check, target, key."""
    old = hashlib.sha256(b"mail.starttls\x1fhttps://a.test/\x1f").hexdigest()[:20]
    assert finding_id("mail.starttls", "https://a.test/") == old
    assert _finding("https://a.test/", subject="https://a.test/").id == old


def test_one_mx_behind_two_domains_gives_two_ids():
    ids = {_finding("smtp://mx.gw.test:25", subject=domain).id for domain in ("a.test", "b.test")}
    assert len(ids) == 2


def test_two_domains_behind_one_mail_gateway_are_both_judged(lab, tmp_path):
    """The lab's agency with a second domain on the same MX (estate.d/unusual-mail.toml):
    scanned end to end, both domains judged, no run lost."""
    inventory = tmp_path / "gateway.toml"
    inventory.write_text('[[service]]\nid = "natuur-en-bos"\nurls = ["https://www.natuurenbos.test/"]\n'
                         'mail_domains = ["natuurenbos.test", "bosreservaten.test"]\n')
    result, _, _ = scan_lab(lab, inventory, tmp_path / "h.db")
    assert result["run"]["complete"] is True
    (svc,) = result["services"]
    assert svc["grade"] != "incomplete", svc["caps"]
    on_gateway = [f for f in svc["findings"] if f["check"] == "mail.starttls"]
    assert {(f["target"], f["subject"], f["status"]) for f in on_gateway} == {
        ("smtp://mx.natuurenbos.test:25", "natuurenbos.test", "pass"),
        ("smtp://mx.natuurenbos.test:25", "bosreservaten.test", "pass")}
    ids = [f["id"] for f in svc["findings"]]
    assert len(ids) == len(set(ids))


def _twice(ctx):
    """A third-party check with a bug: on some facts it says two things of one target, alike."""
    if ctx.facts["http"].get("twice"):
        return [failed("bad"), passed("good")]
    return passed("good")


def _registry_with_buggy_check() -> Registry:
    reg = Registry()
    for chk in REGISTRY:
        reg.add(chk)
    reg.add(dataclasses.replace(REGISTRY["http.hsts"], id="http.agency.twice", func=_twice, messages={
        "bad": {"en": "bad", "nl": "slecht"}, "good": {"en": "good", "nl": "goed"}}))
    return reg


def _stored_run(db, services: dict[str, dict]) -> tuple[Store, str]:
    store = Store(db)
    store.start_run("r1", NOW_TEXT, "test", POLICY.ref, None, {})
    for sid, http in services.items():
        target = f"https://{sid}.test/"
        store.save_service("r1", sid, sid, "", {
            "name": sid, "organisation": "", "tags": [], "owner": "", "mail_domains": [], "source": None,
            "endpoints": [{"target": target, "host": f"{sid}.test", "port": 443, "scheme": "https", "kind": "web"}]})
        store.save_endpoint("r1", sid, target, ["127.0.0.1"], {"http": http})
    return store, "r1"


def test_a_service_that_cannot_be_judged_is_incomplete_and_the_run_is_kept(tmp_path):
    from scanner.times import parse_rfc3339

    store, run_id = _stored_run(tmp_path / "h.db", {"buggy": {"status": 200, "twice": True},
                                                    "broken-store": {"status": 200},
                                                    "fine": {"status": 200}})
    # a real store failure on one service only: SQLite refuses its findings
    store.db.execute("CREATE TRIGGER refuse BEFORE UPDATE ON services WHEN NEW.service_id = 'broken-store' "
                     "AND NEW.score IS NOT NULL BEGIN SELECT RAISE(ABORT, 'disk I/O trouble'); END")
    judge_run(store, run_id, _registry_with_buggy_check(), POLICY, parse_rfc3339(NOW_TEXT))
    services = {s["id"]: s for s in store.services(run_id)}
    store.close()

    buggy = services["buggy"]
    assert buggy["grade"] == "incomplete" and buggy["findings"] == []
    (cap,) = buggy["caps_detail"]
    assert cap["code"] == "judgement_failed" and cap["checks"] == []
    assert "http.agency.twice gave two findings on https://buggy.test/" in cap["reason"]["en"]
    assert cap["reason"]["nl"].startswith("de beoordeling van deze dienst mislukte (ValueError: ")
    assert buggy["caps"] == [f"incomplete: {cap['reason']['en']}"]

    broken = services["broken-store"]
    assert broken["grade"] == "incomplete"
    assert broken["caps"] == ["incomplete: the judgement of this service failed (IntegrityError: disk I/O trouble)"]

    fine = services["fine"]
    assert fine["grade"] != "incomplete" or fine["caps_detail"][0]["code"] == "incomplete"
    assert {f["check"] for f in fine["findings"]} >= {"http.hsts", "http.agency.twice"}


def test_list_facts_cut_at_their_cap_say_how_many_there_were(lab):
    """A name with 20 addresses and 25 CAA records: the facts list 16 and 20, and count them all."""
    import asyncio

    from scanner.probes.dns.probe import probe_dns

    async def main() -> dict:
        ctx = probe_context(lab.resolver, port_map=lab.port_map, trust_anchor=lab.trust_anchor)
        try:
            return await probe_dns(ctx, "veel.natuurenbos.test")
        finally:
            ctx.network.close()

    facts = asyncio.run(main())
    assert len(facts["ipv4"]) == 16 and facts["ipv4_truncated"] == 20 and "ipv6_truncated" not in facts
    assert len(facts["caa"]) == 20 and facts["caa_truncated"] == 25
