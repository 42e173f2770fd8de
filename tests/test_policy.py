"""Policies: shipped ones load, every mistake in a policy file is one precise line, and
waivers (comply or explain) show, count and lapse as documented. No network here."""

from __future__ import annotations

import textwrap
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from checks.registry import Check, Registry, default_registry, passed
from scanner.cli import main
from scanner.judge import apply_waivers
from scanner.model import Finding, InputError, Level, Severity, Status
from scanner.policy import GRADES, load_policy, locate, shipped_policies
from scanner.scoring import score_service

REGISTRY = default_registry()
BASE = "bolwerk-baseline@2026.11"
NEWEST = "bolwerk-baseline@2026.12"


def write(tmp_path: Path, text: str, name: str = "policy.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def policy_error(path: Path, registry: Registry = REGISTRY) -> str:
    with pytest.raises(InputError) as exc:
        load_policy(str(path), registry)
    return str(exc.value)


HEADER = f"""
[policy]
name = "team"
version = "1"
extends = "{BASE}"
"""


# --------------------------------------------------------------------------- shipped policies

def test_shipped_policies_load_pinned_and_distinct():
    shipped = shipped_policies()
    assert {"bolwerk-baseline@2026.11", "ncsc-tls-2025@2026.11", "mozilla-intermediate-6.0@2026.11"} <= set(shipped)
    assert len(shipped) == len(list(Path(next(iter(shipped.values()))).parent.glob("*.toml")))
    for ref in shipped:
        policy = load_policy(ref, REGISTRY)
        assert policy.ref == ref and policy.pinned and policy.shipped
        assert [g for g, _ in policy.grades] == list(GRADES)
        assert any(s.enabled for s in policy.settings.values())
        for cap in policy.caps:  # every shipped cap reason is written in both languages
            assert cap.reason["en"] and cap.reason["nl"] and cap.reason["nl"] != cap.reason["en"], (ref, cap.check)


@pytest.mark.parametrize("check_id", ["certificate.trusted", "certificate.hostname", "certificate.expiry",
                                      "http.https", "tls.protocol.ssl", "tls.protocol.modern"])
def test_every_shipped_policy_fails_a_broken_connection(check_id):
    """What makes HTTPS unusable or unsafe caps the grade at F under every shipped policy alike."""
    for ref in shipped_policies():
        policy = load_policy(ref, REGISTRY)
        caps = [c for c in policy.caps if c.matches(check_id) and Status.FAIL in c.statuses]
        assert caps and all(c.grade == "F" for c in caps), (ref, check_id)


def test_unpinned_name_takes_newest_and_says_so():
    policy = load_policy("bolwerk-baseline", REGISTRY)
    assert policy.ref == NEWEST and not policy.pinned
    assert load_policy(None, REGISTRY).ref == NEWEST


def test_standards_policies_judge_their_scope_only():
    ncsc = load_policy("ncsc-tls-2025@2026.11", REGISTRY)
    mozilla = load_policy("mozilla-intermediate-6.0@2026.11", REGISTRY)
    enabled = {ref: {c for c, s in p.settings.items() if s.enabled} for ref, p in (("n", ncsc), ("m", mozilla))}
    assert "http.csp" not in enabled["n"] and "dns.dnssec" not in enabled["n"] and "mail.spf" not in enabled["n"]
    assert {"http.https", "mail.starttls", "tls.protocol.tls10"} <= enabled["n"]
    assert {"http.hsts", "http.redirect"} <= enabled["m"] and "mail.starttls" not in enabled["m"]
    assert mozilla.thresholds["hsts_min_max_age"] == 63072000
    assert mozilla.settings["tls.protocol.tls13"].level == Level.REQUIRED
    assert ncsc.settings["tls.protocol.tls13"].level == Level.RECOMMENDED


def test_threshold_defaults_agree_across_checks():
    """Two checks reading one threshold must declare the same default, or a policy is ambiguous."""
    seen: dict[str, tuple[str, object]] = {}
    for chk in REGISTRY:
        for name, default in chk.thresholds.items():
            if name in seen:
                assert seen[name][1] == default, f"{name}: {seen[name][0]} and {chk.id} disagree"
            seen[name] = (chk.id, default)


# --------------------------------------------------------------------------- a policy that extends

def test_extends_merges_overrides_and_appends(tmp_path):
    path = write(tmp_path, HEADER + """
        [scoring]
        pillar_weights = { mail = 0.5 }

        [grades]
        B = 75

        [checks."http.*"]
        level = "optional"

        [checks."http.hsts"]
        level = "required"
        weight = 5

        [checks."mail.dane"]
        enabled = false

        [thresholds]
        hsts_min_max_age = 63072000

        [[caps]]
        check = "tls.protocol.tls10"
        grade = "C"
        reason = "no TLS 1.0 here"

        [[caps]]
        check = "dns.*"
        status = ["fail", "warn"]
        grade = "D"

        [[waivers]]
        check = "tls.protocol.tls10"
        target = "https://*.vlaanderen.test/"
        reason = "supplier upgrades the load balancer in Q1"
        owner = "team@vlaanderen.test"
        expires = 2027-03-31
    """)
    policy = load_policy(str(path), REGISTRY)
    assert policy.ref == "team@1" and policy.chain == ["team@1", BASE]
    assert dict(policy.grades)["B"] == 75 and dict(policy.grades)["A"] == 85
    assert policy.pillar_weights["mail"] == 0.5 and policy.pillar_weights["tls"] == 1.0
    assert policy.thresholds["hsts_min_max_age"] == 63072000
    assert policy.thresholds["rsa_min_bits"] == 2048  # the check's default stays
    assert policy.settings["http.csp"].level == Level.OPTIONAL and policy.settings["http.csp"].weight == 0.0
    assert policy.settings["http.hsts"] == policy.settings["http.hsts"].__class__(True, Level.REQUIRED, 5.0)
    assert not policy.settings["mail.dane"].enabled
    tls10 = [c for c in policy.caps if c.check == "tls.protocol.tls10"]
    assert len(tls10) == 1 and tls10[0].grade == "C"  # the child's cap replaced the parent's
    assert tls10[0].reason == {"en": "no TLS 1.0 here", "nl": "no TLS 1.0 here"}  # one string serves both languages
    assert tls10[0].code == "cap:tls.protocol.tls10"
    dns = next(c for c in policy.caps if c.check == "dns.*")
    assert dns.reason == {"en": "dns.*", "nl": "dns.*"}  # no reason: the check names it
    assert any(c.check == "certificate.trusted" for c in policy.caps)  # the parent's others stay
    assert policy.waivers[0].expires == date(2027, 3, 31)
    line = path.read_text().splitlines().index("        [[waivers]]") + 1
    assert policy.waivers[0].source.file == str(path) and policy.waivers[0].source.line == line


def test_extends_a_file_relative_to_the_child(tmp_path):
    (tmp_path / "org").mkdir()
    write(tmp_path / "org", f"""
        [policy]
        name = "org"
        version = "2"
        extends = "{BASE}"

        [grades]
        A = 90
    """, "org.toml")
    child = write(tmp_path, """
        [policy]
        name = "team"
        version = "1"
        extends = "org/org.toml"
    """)
    policy = load_policy(str(child), REGISTRY)
    assert policy.chain == ["team@1", "org@2", BASE] and dict(policy.grades)["A"] == 90


# --------------------------------------------------------------------------- every error path

ERRORS = [
    # (policy text after the header, expected "line: keypath: message" fragment)
    ("colour = 'red'\n", "6: colour: unknown key"),
    ("[policy.extra]\n", "6: policy.extra: unknown key (expected one of: description, extends"),
    ("[scoring]\nwarn_fraction = 2\n", "7: scoring.warn_fraction: must be between 0 and 1"),
    ("[scoring]\nwarn_fraction = 'half'\n", "7: scoring.warn_fraction: expected a number"),
    ("[scoring]\nrequired_fail_cap = 140\n", "7: scoring.required_fail_cap: must be between 0 and 100"),
    ("[scoring]\npillar_weights = { web = 1 }\n", "7: scoring.pillar_weights.web: unknown key"),
    ("[scoring]\nlevel_weights = { mandatory = 1 }\n", "7: scoring.level_weights.mandatory: unknown key"),
    ("[scoring]\nbonus = 1\n", "7: scoring.bonus: unknown key"),
    ("[grades]\n\"A++\" = 99\n", '7: grades."A++": unknown key'),
    ("[grades]\nA = 'high'\n", "7: grades.A: expected a number"),
    ("[grades]\nA = 101\n", "7: grades.A: must be between 0 and 100"),
    ("[grades]\nB = 90\n", "6: grades: thresholds must fall from A+ to F"),
    ("[[caps]]\ncheck = 'tls.protocol.tls9'\ngrade = 'C'\n", "7: caps[0].check: unknown check 'tls.protocol.tls9'"),
    ("[[caps]]\ncheck = 'ftp.*'\ngrade = 'C'\n", "7: caps[0].check: matches no check 'ftp.*'"),
    ("[[caps]]\ncheck = 'http.hsts'\ngrade = 'G'\n", "8: caps[0].grade: must be one of A+, A, B"),
    ("[[caps]]\ncheck = 'http.hsts'\n", "6: caps[0]: grade is required"),
    ("[[caps]]\ncheck = 'http.hsts'\ngrade = 'C'\nstatus = ['broken']\n", "9: caps[0].status: unknown status 'broken'"),
    ("[[caps]]\ncheck = 'http.hsts'\ngrade = 'C'\nstatus = 'fail'\n", "9: caps[0].status: expected a non-empty array"),
    ("[[caps]]\ncheck = 'http.hsts'\ngrade = 'C'\nseverity = 'high'\n", "9: caps[0].severity: unknown key"),
    ("[caps]\ncheck = 'http.hsts'\n", "6: caps: expected [[caps]] entries"),
    ("[[caps]]\ncheck = 'http.hsts'\ngrade = 'C'\nreason = { en = 'no HSTS' }\n",
     "9: caps[0].reason: nl is required (give the reason in en and nl)"),
    ("[[caps]]\ncheck = 'http.hsts'\ngrade = 'C'\nreason = { en = 'no HSTS', nl = 'geen HSTS', fr = 'pas de HSTS' }\n",
     "9: caps[0].reason.fr: unknown key"),
    ("[[caps]]\ncheck = 'http.hsts'\ngrade = 'C'\nreason = { en = 'no HSTS', nl = '' }\n",
     "9: caps[0].reason.nl: expected a non-empty string"),
    ("[[caps]]\ncheck = 'http.hsts'\ngrade = 'C'\nreason = 3\n", "9: caps[0].reason: expected a table"),
    ("[[caps]]\ncheck = 'http.hsts'\ngrade = 'C'\ncode = 'no hsts'\n", "9: caps[0].code: use letters, digits"),
    ('[checks."http.hsts2"]\nlevel = "required"\n', '6: checks."http.hsts2": unknown check'),
    ('[checks."gopher.*"]\nenabled = false\n', '6: checks."gopher.*": matches no check'),
    ('[checks."http.hsts"]\nlevel = "mandatory"\n', '7: checks."http.hsts".level: must be one of required, recommended'),
    ('[checks."http.hsts"]\nweight = -1\n', '7: checks."http.hsts".weight: must be between 0 and 1000'),
    ('[checks."http.hsts"]\nenabled = "no"\n', '7: checks."http.hsts".enabled: expected true or false'),
    ('[checks."http.hsts"]\nmax_age = 1\n', '7: checks."http.hsts".max_age: unknown key'),
    ('[checks]\n"http.hsts" = "required"\n', '7: checks."http.hsts": expected a table'),
    ("[thresholds]\nhsts_max_age = 1\n", "7: thresholds.hsts_max_age: unknown threshold"),
    ("[thresholds]\nrsa_min_bits = '2048'\n", "7: thresholds.rsa_min_bits: expected a whole number (the default is 2048)"),
    ("[thresholds]\nrsa_min_bits = true\n", "7: thresholds.rsa_min_bits: expected a whole number"),
    ("[thresholds]\nrsa_min_bits = 2048.5\n", "7: thresholds.rsa_min_bits: expected a whole number"),
    ("[[waivers]]\ncheck = 'http.hsts'\ntarget = '*'\nreason = 'r'\nowner = 'o'\n",
     "6: waivers[0]: expires is required (comply or explain"),
    ("[[waivers]]\ncheck = 'http.hsts'\ntarget = '*'\nreason = 'r'\nowner = 'o'\nexpires = 'soon'\n",
     "11: waivers[0].expires: expected a date such as 2027-03-31"),
    ("[[waivers]]\ncheck = 'http.hst'\ntarget = '*'\nreason = 'r'\nowner = 'o'\nexpires = 2027-01-01\n",
     "7: waivers[0].check: unknown check 'http.hst'"),
    ("[[waivers]]\ncheck = 'http.hsts'\ntarget = '*'\nreason = ''\nowner = 'o'\nexpires = 2027-01-01\n",
     "9: waivers[0].reason: expected a non-empty string"),
    ("[[waivers]]\ncheck = 'http.hsts'\ntarget = '*'\nreason = 'r'\nowner = 'o'\nexpires = 2027-01-01\nticket = 1\n",
     "12: waivers[0].ticket: unknown key"),
]


@pytest.mark.parametrize("body,expected", ERRORS, ids=[e[1].split(":")[1].strip() + "-" + str(i)
                                                         for i, e in enumerate(ERRORS)])
def test_every_mistake_names_file_line_and_key(tmp_path, body, expected):
    path = write(tmp_path, HEADER + "\n" + body)
    message = policy_error(path)
    assert message.startswith(f"{path}:{expected.split(':', 1)[0]}:"), message
    assert expected.split(":", 1)[1].strip() in message, message


@pytest.mark.parametrize("meta,expected", [
    ('[policy]\nversion = "1"\n', "1: policy: policy.name is required"),
    ('[policy]\nname = "a@b"\nversion = "1"\n', "2: policy.name: use letters, digits"),
    ('[policy]\nname = "x"\nversion = ""\n', "3: policy.version: expected a non-empty string"),
    ('[policy]\nname = "x"\nversion = 2026\n', "3: policy.version: expected a non-empty string"),
    ('[policy]\nname = "x"\nversion = "1"\nowner = "me"\n', "4: policy.owner: unknown key"),
    ('[policy]\nname = "x"\nversion = "1"\nextends = "bolwerk-baseline"\n',
     "4: policy.extends: pin the parent's version, e.g. bolwerk-baseline@2026.12"),
    ('[policy]\nname = "x"\nversion = "1"\nextends = "nothing@1"\n', "4: policy.extends: unknown policy"),
    ('[policy]\nname = "x"\nversion = "1"\nextends = "missing.toml"\n', "4: policy.extends: policy file not found"),
    ('[policy]\nname = "x"\nversion = "1"\n', "policy.toml: grades: at least one grade threshold is required"),
    ('[policy\nname = "x"\n', "policy.toml: invalid TOML"),
])
def test_policy_table_mistakes(tmp_path, meta, expected):
    path = write(tmp_path, meta)
    message = policy_error(path)
    assert expected.split(":", 1)[1].strip() in message, message
    if expected[0].isdigit():
        assert message.startswith(f"{path}:{expected.split(':', 1)[0]}:"), message


def test_a_mistake_in_the_parent_names_the_parent(tmp_path):
    parent = write(tmp_path, f"""
        [policy]
        name = "org"
        version = "1"
        extends = "{BASE}"

        [checks."http.hsts"]
        level = "urgent"
    """, "org.toml")
    child = write(tmp_path, '[policy]\nname = "team"\nversion = "1"\nextends = "org.toml"\n')
    assert policy_error(child).startswith(f"{parent}:7: checks.\"http.hsts\".level: must be one of")


def test_circular_inheritance(tmp_path):
    write(tmp_path, '[policy]\nname = "a"\nversion = "1"\nextends = "b.toml"\n', "a.toml")
    write(tmp_path, '[policy]\nname = "b"\nversion = "1"\nextends = "a.toml"\n', "b.toml")
    assert "circular inheritance" in policy_error(tmp_path / "a.toml")


def test_unknown_policy_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="unknown policy .*shipped: .*bolwerk-baseline@2026.11"):
        load_policy("strict@9", REGISTRY)
    with pytest.raises(InputError, match="policy file not found"):
        load_policy(str(tmp_path / "nope.toml"), REGISTRY)


def test_nested_threshold_names_are_dotted(tmp_path):
    """A threshold named "tls.classification" may be written as a TOML sub-table."""
    registry = Registry()
    registry.add(Check("tls.x", "tls", Level.REQUIRED, Severity.HIGH, {"en": "x", "nl": "x"},
                       {"en": "x", "nl": "x"}, (), lambda ctx: passed("ok"),
                       thresholds={"tls.classification": "ncsc-nl-2025", "tls.allowed": ["TLSv1.3"]}))
    base = '[policy]\nname = "t"\nversion = "1"\n[grades]\nA = 50\n'
    nested = write(tmp_path, base + '[thresholds.tls]\nclassification = "mozilla"\nallowed = ["TLSv1.2", "TLSv1.3"]\n')
    policy = load_policy(str(nested), registry)
    assert policy.thresholds == {"tls.classification": "mozilla", "tls.allowed": ["TLSv1.2", "TLSv1.3"]}
    quoted = write(tmp_path, base + '[thresholds]\n"tls.classification" = "x"\n', "q.toml")
    assert load_policy(str(quoted), registry).thresholds["tls.classification"] == "x"
    bad = write(tmp_path, base + '[thresholds.tls]\nallowed = [1, 2]\n', "b.toml")
    assert "7: thresholds.tls.allowed: expected an array of str" in policy_error(bad, registry)
    unknown = write(tmp_path, base + '[thresholds.tls]\nclasification = "x"\n', "u.toml")
    assert "7: thresholds.tls.clasification: unknown threshold" in policy_error(unknown, registry)


def test_locate_finds_keys_in_tables_arrays_and_inline_tables():
    text = textwrap.dedent("""
        [policy]
        name = "x"
        [[caps]]
        check = "a"
        [[caps]]
        check = "b"   # second
        grade = "C"
        [checks]
        "http.hsts" = { level = "required" }
        [checks."dns.caa"]
        enabled = false
    """).lstrip()
    assert locate(text, ("policy", "name")) == 2
    assert locate(text, ("caps", 1, "grade")) == 7
    assert locate(text, ("caps", 1, "status")) == 5  # absent: the entry's own line
    assert locate(text, ("checks", "http.hsts", "level")) == 9
    assert locate(text, ("checks", "dns.caa", "enabled")) == 11
    assert locate(text, ("nowhere",)) is None


def test_cli_reports_a_bad_policy_in_one_line_with_exit_2(tmp_path):
    path = write(tmp_path, HEADER + '\n[checks."http.hsts"]\nlevel = "urgent"\n')
    result = CliRunner().invoke(main, ["gate", "https://www.example.test/", "--policy", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f'bolwerk: error: {path}:7: checks."http.hsts".level: must be one of required, recommended, optional, '
        "got 'urgent'"]
    assert "Traceback" not in result.output
    result = CliRunner().invoke(main, ["rescore", "latest", "--policy", "strict@9", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "unknown policy" in result.stderr


# --------------------------------------------------------------------------- waivers

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def finding(check: str, status: Status, target: str = "https://a.test/", level: Level = Level.REQUIRED) -> Finding:
    chk = REGISTRY[check]
    return Finding(check=check, pillar=chk.pillar, level=level, severity=chk.severity, status=status,
                   target=target, message="problem", weight=3.0, subject=target)


def waiver_policy(tmp_path: Path, expires: str, check: str = "tls.protocol.tls10", target: str = "https://a.test/"):
    return load_policy(str(write(tmp_path, HEADER + f"""
        [[waivers]]
        check = "{check}"
        target = "{target}"
        reason = "legacy clients of the tax office"
        owner = "ops@belastingen.test"
        expires = {expires}
    """)), REGISTRY)


def test_active_waiver_shows_the_finding_as_waived_and_it_does_not_count(tmp_path):
    policy = waiver_policy(tmp_path, "2027-01-31", check="tls.protocol.*", target="https://*.test/")
    findings = [finding("tls.protocol.tls10", Status.FAIL), finding("tls.protocol.ssl", Status.PASS),
                finding("tls.protocol.tls10", Status.FAIL, target="https://other.example/")]
    judged = apply_waivers(findings, policy, NOW)
    assert [f.status for f in judged] == [Status.WAIVED, Status.PASS, Status.FAIL]
    waiver = judged[0].waiver
    assert waiver["original_status"] == "fail" and waiver["owner"] == "ops@belastingen.test"
    assert waiver["expires"] == "2027-01-31" and waiver["source"]["line"] == 6 and "expired" not in waiver
    assert judged[1].waiver is None  # a passing finding needs no waiver
    score = score_service(judged[:2], policy)
    assert judged[0].points is None and score.score == 100.0 and score.grade == "A+"
    assert not any("TLS 1.0" in c for c in score.caps)  # a waived finding triggers no cap


def test_expired_waiver_stops_applying_and_says_so(tmp_path):
    policy = waiver_policy(tmp_path, "2026-11-27")
    judged = apply_waivers([finding("tls.protocol.tls10", Status.FAIL)], policy, NOW)[0]
    assert judged.status == Status.FAIL
    assert judged.waiver["expired"] is True
    assert "waiver expired on 2026-11-27; it no longer applies" in judged.message
    score = score_service([judged], policy)
    assert any(c.startswith("B: TLS 1.0") for c in score.caps)


def test_waiver_is_valid_through_its_expiry_day(tmp_path):
    policy = waiver_policy(tmp_path, "2026-11-28")
    assert apply_waivers([finding("tls.protocol.tls10", Status.FAIL)], policy, NOW)[0].status == Status.WAIVED


def test_waived_errors_keep_a_grade_complete(tmp_path):
    policy = waiver_policy(tmp_path, "2027-01-01", check="mail.starttls", target="smtp://*")
    error = finding("mail.starttls", Status.ERROR, target="smtp://mx.a.test:25")
    judged = apply_waivers([error, finding("tls.protocol.ssl", Status.PASS)], policy, NOW)
    assert judged[0].status == Status.WAIVED and judged[0].waiver["original_status"] == "error"
    score = score_service(judged, policy)
    assert score.grade == "A+" and score.score == 100.0  # graded on the passing check alone, not incomplete


def test_the_documented_policy_waiver_and_inventory_load(tmp_path):
    from scanner.inventory import load_inventory

    doc = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in doc.split("```toml\n")[1:]]
    policy_text = next(b for b in blocks if "[policy]" in b)
    waiver_text = next(b for b in blocks if "[[waivers]]" in b)
    inventory_text = next(b for b in blocks if "[[service]]" in b and "aangifte" in b)
    policy = load_policy(str(write(tmp_path, policy_text + "\n" + waiver_text)), REGISTRY)
    assert policy.ref == "digitaal-vlaanderen@2026.12" and policy.waivers[0].expires == date(2027, 3, 31)
    assert not policy.settings["http.version_disclosure"].enabled
    assert policy.settings["http.csp"].level == Level.REQUIRED
    assert load_inventory(write(tmp_path, inventory_text, "bolwerk.toml")).services[0].id == "aangifte"


def test_shipped_classification_thresholds_exist():
    from scanner.standards.tls_classification import load

    for ref in shipped_policies():
        value = load_policy(ref, REGISTRY).thresholds["tls.classification"]
        assert load(value).id == value


def test_standards_policies_grade_the_lab_by_their_own_scope(lab_scan, tmp_path):
    """Re-judged from stored facts: TLS 1.0 costs more under the standards; headers cost nothing."""
    import shutil

    from reports.json import build_result
    from scanner.judge import rescore
    from scanner.store import Store

    _, db, run_id = lab_scan
    shutil.copy(db, tmp_path / "h.db")
    store = Store(tmp_path / "h.db")
    grades = {}
    for ref in ("ncsc-tls-2025@2026.11", "mozilla-intermediate-6.0@2026.11"):
        new = rescore(store, run_id, REGISTRY, load_policy(ref, REGISTRY))
        grades[ref.split("@")[0]] = {s["id"]: s["grade"] for s in build_result(store, new)["services"]}
    store.close()
    baseline = {s["id"]: s["grade"] for s in lab_scan[0]["services"]}
    assert baseline["belastingaangifte"] == "B"
    assert grades["ncsc-tls-2025"]["belastingaangifte"] == grades["mozilla-intermediate-6.0"]["belastingaangifte"] == "C"
    # onderwijs: headers missing (no cost under the TLS standards), TLS that meets them
    assert baseline["onderwijs"] == "C" and grades["ncsc-tls-2025"]["onderwijs"] == "A+"
    assert baseline["burgerprofiel"] == "A+" and baseline["archiefbank"] == "F"
    for ref in grades:
        assert grades[ref]["burgerprofiel"] == "A+" and grades[ref]["archiefbank"] == "F"
