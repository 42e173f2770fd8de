"""`bolwerk diff`: per service what changed, fixed told apart from no longer judged, as text or JSON,
exit code 1 when a service regressed (documented in the README)."""

import json

from click.testing import CliRunner

from reports.diff import compare_service, diff_runs
from scanner.cli import main
from scanner.store import Store


def finding(fid, check, status, target="https://s.test/", **extra):
    return {"id": fid, "check": check, "pillar": "http", "level": "required", "severity": "high",
            "status": status, "target": target, "message": f"{check} {status}", **extra}


def test_fixed_needs_the_check_to_have_judged_the_subject_again():
    before = {"id": "s", "grade": "B", "findings": [
        finding("a", "http.csp", "fail"), finding("b", "http.hsts", "fail"),
        finding("c", "mail.dmarc", "warn", target="mx.s.test", subject="s.test"),
        finding("d", "http.framing", "fail", target="https://gone.test/")]}
    after = {"id": "s", "grade": "B", "findings": [
        finding("a", "http.csp", "pass"),  # judged again and in order: fixed
        finding("e", "mail.dmarc", "pass", target="mx.s.test", subject="s.test")]}  # same check and subject
    change = compare_service(before, after)
    assert [f["id"] for f in change.fixed] == ["a", "c"]
    assert [f["id"] for f in change.unjudged] == ["b", "d"]  # check left the policy; endpoint left the inventory
    assert change.direction == "up"  # a failure fixed, none appeared, the grade the same


def test_direction_grade_first_then_failures():
    def change(grade_before, grade_after, before, after):
        return compare_service({"id": "s", "grade": grade_before, "findings": before},
                               {"id": "s", "grade": grade_after, "findings": after}).direction

    fail, ok = finding("a", "http.csp", "fail"), finding("a", "http.csp", "pass")
    assert change("B", "C", [], []) == "down" and change("C", "B", [], []) == "up"
    assert change("B", "B", [ok], [fail]) == "down"
    assert change("B", "A", [ok], [fail]) == "up"  # the grade decides
    assert change("B", "B", [], [finding("w", "http.hsts", "warn")]) is None  # a new warning alone is no regression
    assert change("B", "incomplete", [], []) is None


def test_diff_json_and_exit_code_on_the_two_demo_runs(two_runs):
    _, out = two_runs
    store = Store(out / "history.db")
    new, old = (r["id"] for r in store.runs())
    store.close()
    res = CliRunner().invoke(main, ["diff", old, new, "--db", str(out / "history.db"), "--json"])
    assert res.exit_code == 1, res.output  # Stad Leuven and Stad Gent regressed
    document = json.loads(res.stdout)
    assert document["schema"] == "bolwerk/diff/v1" and document["same_policy"] is True
    assert document["summary"] == {"regressed": 2, "improved": 1, "added": 0, "removed": 0}
    by_id = {s["id"]: s for s in document["services"]}
    assert set(by_id) == {"gent-eloket", "leuven-stadsportaal", "onderwijs"}
    assert by_id["onderwijs"]["grade"] == {"before": "C", "after": "A+"}
    assert {f["check"] for f in by_id["onderwijs"]["fixed"]} >= {"http.csp", "http.hsts", "http.framing"}
    assert by_id["onderwijs"]["no_longer_judged"] == []
    assert by_id["gent-eloket"]["name"] == "Stad Gent – e-loket" and by_id["gent-eloket"]["organisation"] == "Stad Gent"
    res = CliRunner().invoke(main, ["diff", new, old, "--db", str(out / "history.db")])
    assert res.exit_code == 1 and "onderwijs: regressed" in res.stdout  # backwards, Onderwijs regressed
    res = CliRunner().invoke(main, ["diff", new, new, "--db", str(out / "history.db"), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["services"] == []


def test_across_policies_problems_of_dropped_checks_are_no_longer_judged(two_runs, tmp_path):
    """A stricter or laxer policy is not a fix: rescored without the HTTP header checks, Stad
    Gent's header failures are "no longer judged", and the diff says the policies differ."""
    import shutil

    _, out = two_runs
    db = tmp_path / "h.db"
    shutil.copy(out / "history.db", db)
    policy = tmp_path / "lax.toml"
    policy.write_text('[policy]\nname = "lax"\nversion = "1"\nextends = "bolwerk-baseline@2026.11"\n\n'
                      '[checks."http.csp"]\nenabled = false\n')
    store = Store(db)
    latest = store.runs()[0]["id"]
    store.close()
    res = CliRunner().invoke(main, ["rescore", latest, "--policy", str(policy), "--db", str(db)])
    assert res.exit_code == 0, res.output
    lax = res.stdout.strip()
    res = CliRunner().invoke(main, ["diff", latest, lax, "--db", str(db), "--json"])
    document = json.loads(res.stdout)
    assert document["same_policy"] is False and "judged under different policies" in res.stderr
    gent = {s["id"]: s for s in document["services"]}["gent-eloket"]
    assert [f["check"] for f in gent["no_longer_judged"]] == ["http.csp"] and gent["fixed"] == []
    store = Store(db)
    assert diff_runs(store, latest, lax).count("up") == 0  # nothing "improved" by a policy change
    store.close()
