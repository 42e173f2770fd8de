"""Every registered check: well-declared, and honest when facts are missing (error, never a pass)."""

from datetime import UTC, datetime

import pytest

from checks.registry import default_registry
from scanner.judge import Subject, judge_subject
from scanner.model import EndpointKind, Status
from scanner.policy import load_policy

REGISTRY = default_registry()
POLICY = load_policy(None, REGISTRY)
NOW = datetime(2026, 11, 28, tzinfo=UTC)
SECTIONS = ("tls", "certificate", "http", "dns", "mail")


def test_registry_declares_every_check_completely():
    assert len(REGISTRY) >= 15
    for chk in REGISTRY:
        assert chk.title["en"] and chk.title["nl"] and chk.remediation["en"] and chk.remediation["nl"], chk.id
        assert chk.references, f"{chk.id} cites no reference"
        assert chk.id.startswith(chk.pillar + "."), chk.id


@pytest.mark.parametrize("facts", [
    {},
    {name: {"error": "connection refused"} for name in SECTIONS},
    {name: {} for name in SECTIONS},
], ids=["no-sections", "error-sections", "empty-sections"])
def test_missing_facts_never_pass(facts):
    subjects = [
        Subject("endpoint", "https://x.vlaanderen.test/", facts, EndpointKind.WEB, "https", {"host": "x.vlaanderen.test"}),
        Subject("mail_domain", "vlaanderen.test", facts, info={"domain": "vlaanderen.test", "declared": True}),
    ]
    for subject in subjects:
        for f in judge_subject(REGISTRY, POLICY, subject, NOW):
            # not measured is not failed: nothing may pass, warn or fail on facts that are not there
            assert f.status in (Status.ERROR, Status.NOT_APPLICABLE), (f.check, f.status, f.message)
            if f.status == Status.ERROR:
                assert f.message.startswith(("not measured", "check failed")) and "check failed" not in f.message, (f.check, f.message)
