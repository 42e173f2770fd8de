"""Notifications after a run, delivered to lab receivers on loopback: a webhook (JSON POST) and an
SMTP relay (plain, and STARTTLS with a login); bounded, and no secret in what is logged."""

import email
import shutil
import ssl
import time
from email import policy as email_policy

import pytest
from click.testing import CliRunner

from reports.diff import diff_runs
from scanner.cli import main
from scanner.lab.ca import LabCA
from scanner.lab.receivers import Receivers, WebhookReceiver, smtp_relay
from scanner.notify import PASSWORD_ENV, NotifySettings, send_notifications
from scanner.store import Store


@pytest.fixture
def history(two_runs, tmp_path):
    """A copy of the two demo runs' history: (store, the later run's id)."""
    _, out = two_runs
    shutil.copy(out / "history.db", tmp_path / "h.db")
    store = Store(tmp_path / "h.db")
    yield store, store.runs()[0]["id"]
    store.close()


def test_webhook_gets_the_diff_as_json(history):
    store, run_id = history
    hook = WebhookReceiver()
    with Receivers(hook):
        url = f"http://127.0.0.1:{hook.port}/hooks/bolwerk"
        lines = send_notifications(store, run_id, NotifySettings(webhooks=[url]))
    assert lines == [f"notify: webhook http://127.0.0.1:{hook.port}/... accepted the notification (HTTP 204)"]
    [request] = hook.requests
    assert request.method == "POST" and request.path == "/hooks/bolwerk"
    assert request.headers["content-type"] == "application/json" and "Bolwerk/" in request.headers["user-agent"]
    body = request.json()
    assert body["schema"] == "bolwerk/diff/v1" and body["runs"]["after"] == run_id
    assert body["summary"] == {"regressed": 2, "improved": 1, "added": 0, "removed": 0}
    changes = {s["id"]: s for s in body["services"]}
    assert changes["leuven-stadsportaal"]["direction"] == "down"
    assert changes["leuven-stadsportaal"]["grade"] == {"before": "B", "after": "F"}
    assert "certificate.trusted" in {f["check"] for f in changes["leuven-stadsportaal"]["new"]}
    assert changes["gent-eloket"]["direction"] == "down" and "grade" not in changes["gent-eloket"]
    assert changes["onderwijs"]["direction"] == "up" and changes["onderwijs"]["fixed"]
    assert [s["direction"] for s in body["services"]] == ["down", "down", "up"]  # regressions first
    assert body["run"]["id"] == run_id and body["tool"]["name"] == "bolwerk"


def test_a_refusing_or_silent_webhook_is_told_and_bounded_and_its_secret_never_logged(history):
    store, run_id = history
    refusing, silent = WebhookReceiver(status=500), WebhookReceiver(delay=30)
    with Receivers(refusing, silent):
        secret = "T0KEN-s3cret"
        urls = [f"http://127.0.0.1:{refusing.port}/services/{secret}?token={secret}",
                f"http://user:{secret}@127.0.0.1:{silent.port}/hook"]
        started = time.monotonic()
        lines = send_notifications(store, run_id, NotifySettings(webhooks=urls, timeout=1.0))
        took = time.monotonic() - started
    assert lines == [f"notify: webhook http://127.0.0.1:{refusing.port}/... refused the notification (HTTP 500)",
                     f"notify: webhook http://127.0.0.1:{silent.port}/... failed: ReadTimeout"]
    assert took < 10 and all(secret not in line for line in lines)


def test_nothing_is_sent_when_nothing_asked_for_changed(history):
    store, run_id = history
    hook = WebhookReceiver()
    with Receivers(hook):
        url = f"http://127.0.0.1:{hook.port}/"
        first = store.runs()[-1]["id"]  # the first run: nothing earlier to compare with
        assert send_notifications(store, first, NotifySettings(webhooks=[url])) == [
            "notify: no earlier run under the same policy to compare with; nothing sent"]
        assert hook.requests == []
        send_notifications(store, first, NotifySettings(webhooks=[url], on="always"))
        assert hook.requests[-1].json()["summary"] == {"regressed": 0, "improved": 0, "added": 0, "removed": 0}


def test_email_through_the_relay_in_the_dashboards_language(history):
    store, run_id = history
    relay = smtp_relay()
    with Receivers(relay):
        lines = send_notifications(store, run_id, NotifySettings(
            mail_to=["security@vlaanderen.test", "ciso@vlaanderen.test"], smtp=f"127.0.0.1:{relay.port}",
            mail_from="bolwerk@vlaanderen.test", lang="nl"))
    assert lines == [f"notify: e-mail sent through 127.0.0.1:{relay.port} to 2 of 2 recipients"]
    [received] = relay.messages
    assert received.mail_from == "bolwerk@vlaanderen.test"
    assert received.rcpt_to == ["security@vlaanderen.test", "ciso@vlaanderen.test"]
    message = email.message_from_bytes(received.data, policy=email_policy.default)
    assert message["Subject"] == "Bolwerk: 2 achteruit, 1 vooruit sinds de vorige scan"
    body = message.get_content()
    assert "Achteruitgegaan (2):" in body and "Vooruitgegaan (1):" in body
    assert "- Stad Leuven – stadsportaal (Stad Leuven), rapport B -> F" in body
    assert "nieuw: certificate.trusted https://www.leuven.test/: niet vertrouwd" in body


def test_email_with_starttls_and_a_login_and_a_wrong_password_never_shown(history, tmp_path, monkeypatch):
    store, run_id = history
    ca = LabCA()
    cert, key = ca.issue(["127.0.0.1"]).write(tmp_path, "relay")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    (tmp_path / "ca.pem").write_bytes(ca.root_pem())
    relay = smtp_relay(users={"bolwerk": "juist-wachtwoord"}, tls=server)
    with Receivers(relay):
        settings = NotifySettings(mail_to=["security@vlaanderen.test"], smtp=f"127.0.0.1:{relay.port}",
                                  starttls=True, smtp_user="bolwerk", ca_bundle=tmp_path / "ca.pem", lang="en")
        monkeypatch.setenv(PASSWORD_ENV, "juist-wachtwoord")
        assert send_notifications(store, run_id, settings)[0].startswith("notify: e-mail sent through")
        monkeypatch.setenv(PASSWORD_ENV, "verkeerd-wachtwoord")
        [failed] = send_notifications(store, run_id, settings)
    assert failed == f"notify: e-mail through 127.0.0.1:{relay.port} failed: 535"
    [received] = relay.messages
    assert received.encrypted and received.user == "bolwerk"
    subject = email.message_from_bytes(received.data, policy=email_policy.default)["Subject"]
    assert subject == "Bolwerk: 2 regressed, 1 improved since the previous scan"


def test_scan_notifies_after_the_run_through_the_command_line(two_runs, tmp_path, lab, lab_args):
    _, out = two_runs
    db = tmp_path / "h.db"
    shutil.copy(out / "history.db", db)
    hook, relay = WebhookReceiver(), smtp_relay()
    with Receivers(hook, relay):
        res = CliRunner().invoke(main, [
            "scan", str(lab.inventory), "--db", str(db), *lab_args, "--notify-webhook",
            f"http://127.0.0.1:{hook.port}/x", "--notify-email", "security@vlaanderen.test",
            "--smtp", f"127.0.0.1:{relay.port}", "--lang", "en"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "accepted the notification (HTTP 204)" in res.stderr and "e-mail sent through" in res.stderr
    body = hook.requests[0].json()  # the lab as it was again: what lapsed and broke is back, one fix undone
    assert body["summary"]["improved"] == 2 and body["summary"]["regressed"] == 1
    store = Store(db)
    assert diff_runs(store, body["runs"]["before"], body["runs"]["after"]).to_json()["summary"] == body["summary"]
    store.close()
    assert relay.messages and relay.messages[0].rcpt_to == ["security@vlaanderen.test"]


def test_notification_settings_are_checked_before_the_scan(tmp_path):
    inventory = tmp_path / "urls.txt"
    inventory.write_text("https://x.test/\n")
    res = CliRunner().invoke(main, ["scan", str(inventory), "--db", str(tmp_path / "h.db"),
                                    "--notify-email", "a@b.test"])
    assert res.exit_code == 2 and "--notify-email: needs --smtp HOST[:PORT]" in res.stderr
    res = CliRunner().invoke(main, ["scan", str(inventory), "--db", str(tmp_path / "h.db"),
                                    "--notify-webhook", "ftp://x.test/hook?token=s3cret"])
    assert res.exit_code == 2 and "ftp://x.test/...: not an http(s) URL" in res.stderr and "s3cret" not in res.stderr
    assert not (tmp_path / "h.db").exists()
