"""Scoring rules that keep a grade honest: one check counts once, caps, incomplete."""

from checks.registry import default_registry
from scanner.model import Finding, Level, Severity, Status
from scanner.policy import load_policy
from scanner.scoring import score_service

POLICY = load_policy(None, default_registry())


def finding(check, status, pillar="http", level=Level.RECOMMENDED, weight=1.0, key="", subject="https://a.test/"):
    return Finding(check=check, pillar=pillar, level=level, severity=Severity.MEDIUM, status=Status(status),
                   target=subject, message="", key=key, weight=weight, subject=subject)


def test_a_check_counts_once_by_its_worst_finding():
    many_rules = [finding("http.csp.script", "fail", key=f"rule{i}") for i in range(6)]
    one_rule = [finding("http.csp.script", "fail", key="rule0")]
    others = [finding("http.framing", "pass"), finding("http.content_type_options", "pass")]
    assert score_service(many_rules + others, POLICY).pillars == score_service(one_rule + others, POLICY).pillars
    mixed = [finding("http.cookies", "pass", key="a"), finding("http.cookies", "warn", key="b")] + others
    assert score_service(mixed, POLICY).pillars["http"]["score"] == round(100 * 2.5 / 3, 1)
    counted = [f for f in mixed if f.points is not None]
    assert len(counted) == 3


def test_required_failure_caps_the_pillar_and_caps_the_grade():
    findings = [finding("http.hsts", "fail", level=Level.REQUIRED, weight=3.0)] + [
        finding(f"http.x{i}", "pass") for i in range(20)]
    result = score_service(findings, POLICY)
    assert result.pillars["http"]["score"] == POLICY.required_fail_cap
    assert result.grade == "D" and any("no HSTS" in c for c in result.caps)  # score 40, below the B cap


def test_unmeasured_required_check_makes_the_grade_incomplete_unless_already_failed():
    unmeasured = [finding("tls.protocol.tls10", "error", pillar="tls", level=Level.REQUIRED, weight=3.0),
                  finding("http.framing", "pass")]
    assert score_service(unmeasured, POLICY).grade == "incomplete"
    failed_hard = unmeasured + [finding("certificate.trusted", "fail", pillar="certificate", level=Level.REQUIRED, weight=3.0)]
    result = score_service(failed_hard, POLICY)
    assert result.grade == "F"  # an untrusted certificate is F whatever the unmeasured checks say
    assert score_service([finding("tls.protocol.tls10", "error", pillar="tls", level=Level.REQUIRED)], POLICY).grade == "incomplete"
