"""After a scheduled scan: tell people what changed, by webhook (a JSON POST) and by e-mail through an SMTP relay.

What is said comes from reports/notice.py (the diff with the previous run judged under the
same policy); this module only delivers it. The receivers are the operator's own systems,
not scan targets, so they are not held to the scan's scope; every exchange is bounded (a
timeout on each connect, read and write, no redirect followed, the webhook's answer not
read), a failed delivery is a line on stderr and never fails the scan, and no log line
carries a secret: a webhook URL is logged as scheme://host/... (tokens often sit in its path
or query), the SMTP password is read from the environment and never printed.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from reports.diff import diff_runs
from reports.history import history
from reports.html import texts
from reports.notice import mail_text, webhook_payload
from scanner import __version__
from scanner.model import InputError
from scanner.store import Store

TIMEOUT = 10.0  # seconds for each connect, read and write
PASSWORD_ENV = "BOLWERK_SMTP_PASSWORD"
WHEN = ("changes", "regressions", "always")


@dataclass
class NotifySettings:
    webhooks: list[str] = field(default_factory=list)
    mail_to: list[str] = field(default_factory=list)
    smtp: str | None = None  # the relay, host[:port]
    mail_from: str = "bolwerk@localhost"
    starttls: bool = False
    smtp_user: str | None = None
    on: str = "changes"  # notify when any service regressed or improved, only on regressions, or after every run
    lang: str = "nl"
    ca_bundle: Path | None = None  # roots for the webhook's https and the relay's STARTTLS (default: the system's)
    timeout: float = TIMEOUT

    def __bool__(self) -> bool:
        return bool(self.webhooks or self.mail_to)

    def validate(self) -> None:
        for url in self.webhooks:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise InputError("--notify-webhook", f"{redact(url)}: not an http(s) URL")
        if self.mail_to and not self.smtp:
            raise InputError("--notify-email", "needs --smtp HOST[:PORT], the relay that delivers it")
        if self.smtp:
            smtp_address(self.smtp)
        if self.smtp_user and not os.environ.get(PASSWORD_ENV):
            raise InputError("--smtp-user", f"set the password in the environment variable {PASSWORD_ENV}")


def smtp_address(text: str) -> tuple[str, int]:
    """The relay's host and port from HOST, HOST:PORT, [IPv6] or [IPv6]:PORT (port 25 by default)."""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest
    elif text.count(":") == 1:
        host, _, port = text.partition(":")
    else:
        host, port = text, ""
    if not host or not (port == "" or port.isdigit()):
        raise InputError("--smtp", f"{text}: expected HOST or HOST:PORT")
    return host, int(port) if port else 25


def redact(url: str) -> str:
    """A URL as logs may show it: scheme, host and port, never user, path or query."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    rest = "/..." if parts.path.strip("/") or parts.query else "/"
    return f"{parts.scheme}://{host}{port}{rest}"


def send_notifications(store: Store, run_id: str, settings: NotifySettings) -> list[str]:
    """Send what changed since the previous comparable run; lines saying what was sent, for stderr."""
    previous = history(store, run_id).previous
    if previous is None:
        if settings.on != "always":
            return ["notify: no earlier run under the same policy to compare with; nothing sent"]
        base = run_id
    else:
        base = previous.run
    diff = diff_runs(store, base, run_id)
    if settings.on == "regressions" and not diff.regressed:
        return ["notify: no service regressed; nothing sent"]
    if settings.on == "changes" and not (diff.count("down") or diff.count("up")):
        return ["notify: no service regressed or improved; nothing sent"]
    lines = []
    if settings.webhooks:
        payload = webhook_payload(diff, store.run(run_id), __version__)
        lines += [post_webhook(url, payload, settings) for url in settings.webhooks]
    if settings.mail_to:
        lang = settings.lang
        subject, body = mail_text(diff, texts()[lang], lang)
        lines.append(send_mail(subject, body, settings))
    return lines


def post_webhook(url: str, payload: dict, settings: NotifySettings) -> str:
    shown = redact(url)
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(settings.ca_bundle)) \
        if settings.ca_bundle else True
    try:
        with httpx.Client(timeout=settings.timeout, follow_redirects=False, verify=verify,
                          headers={"User-Agent": f"Bolwerk/{__version__} (notification)"}) as client, \
                client.stream("POST", url, json=payload) as response:
            status = response.status_code  # the answer's body is not read
    except httpx.HTTPError as exc:
        return f"notify: webhook {shown} failed: {type(exc).__name__}"
    if 200 <= status < 300:
        return f"notify: webhook {shown} accepted the notification (HTTP {status})"
    return f"notify: webhook {shown} refused the notification (HTTP {status})"


def send_mail(subject: str, body: str, settings: NotifySettings) -> str:
    host, port = smtp_address(settings.smtp or "")
    message = EmailMessage()
    message["Subject"], message["From"], message["To"] = subject, settings.mail_from, ", ".join(settings.mail_to)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.mail_from.rpartition("@")[2] or "bolwerk")
    message.set_content(body)
    try:
        with smtplib.SMTP(host, port, timeout=settings.timeout, local_hostname=socket.gethostname() or "bolwerk") \
                as relay:
            if settings.starttls:
                context = ssl.create_default_context(cafile=str(settings.ca_bundle) if settings.ca_bundle else None)
                relay.starttls(context=context)
            if settings.smtp_user:
                relay.login(settings.smtp_user, os.environ.get(PASSWORD_ENV, ""))
            refused = relay.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        reason = exc.smtp_code if isinstance(exc, smtplib.SMTPResponseException) else type(exc).__name__
        return f"notify: e-mail through {host}:{port} failed: {reason}"
    sent = len(settings.mail_to) - len(refused)
    return f"notify: e-mail sent through {host}:{port} to {sent} of {len(settings.mail_to)} recipients"
