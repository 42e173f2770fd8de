"""Every registered check: well-declared, and honest when facts are missing (error, never a pass)."""

import pytest

from scanner.model import PILLARS, EndpointKind, Status
from tests.judging import REGISTRY, judge_all


def test_registry_declares_every_check_completely():
    assert {chk.pillar for chk in REGISTRY} == set(PILLARS)
    for chk in REGISTRY:
        assert chk.title["en"] and chk.title["nl"] and chk.remediation["en"] and chk.remediation["nl"], chk.id
        assert chk.title["en"] != chk.title["nl"] and chk.remediation["en"] != chk.remediation["nl"], chk.id
        assert chk.references, f"{chk.id} cites no reference"
        assert chk.id.startswith(chk.pillar + "."), chk.id


SECTIONS = ("tls", "certificate", "http", "dns", "mail")
SUBJECTS = [("endpoint", "https://x.vlaanderen.test/"), ("mail_domain", "vlaanderen.test")]


@pytest.mark.parametrize("facts", [
    {},
    {name: {"error": "connection refused"} for name in SECTIONS},
    {name: {} for name in SECTIONS},
], ids=["no-sections", "error-sections", "empty-sections"])
@pytest.mark.parametrize("subject, target", SUBJECTS, ids=[s for s, _ in SUBJECTS])
def test_missing_facts_never_pass(facts, subject, target):
    findings = {f.check: f for f in judge_all(facts, subject=subject, target=target)}
    # every registered check for this subject ran once (the baseline policy enables them all)
    judged = [chk for chk in REGISTRY if chk.subject == subject]
    assert sorted(findings) == sorted(chk.id for chk in judged)
    for chk in judged:
        f = findings[chk.id]
        # not measured is not failed: a check that applies says "not measured", never a verdict
        declared_away = subject == "endpoint" and (EndpointKind.WEB not in chk.kinds or "https" not in chk.schemes)
        if declared_away:
            assert f.status == Status.NOT_APPLICABLE, (f.check, f.status, f.message)
        else:
            assert f.status == Status.ERROR and f.message.startswith("not measured: "), (f.check, f.status, f.message)


def test_every_finding_of_a_lab_scan_has_a_dutch_message(lab_scan_all):
    """What the Dutch dashboard shows, end to end: every finding of the full lab estate has message_nl."""
    english_only = {(f["check"], f["message"]) for svc in lab_scan_all[0]["services"] for f in svc["findings"]
                    if not f.get("message_nl")}
    assert english_only == set()
