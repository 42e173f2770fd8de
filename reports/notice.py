"""What a notification of a run says: the webhook's JSON and the e-mail's subject and text.

Both are built from the diff with the previous run judged under the same policy
(reports/diff.py), so a notification, the dashboard and `bolwerk diff` tell the same
story. The webhook gets `bolwerk diff --json`'s document (at most MAX_SERVICES services,
regressions first); the e-mail is plain text in the dashboard's language. Sending them is
scanner/notify.py's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reports.diff import RunDiff, ServiceChange

MAX_SERVICES = 1000  # services a webhook's document lists (the count of the rest is given)
MAIL_SERVICES = 50  # services an e-mail lists per direction


def _ordered(diff: RunDiff) -> list[ServiceChange]:
    return sorted(diff.services, key=lambda c: ({"down": 0, "up": 1}.get(c.direction or "", 2), c.id))


def webhook_payload(diff: RunDiff, run: Mapping[str, Any], tool_version: str) -> dict[str, Any]:
    document = diff.to_json()
    changes = _ordered(diff)
    document["services"] = [c.to_json() for c in changes[:MAX_SERVICES]]
    document["services_left_out"] = max(0, len(changes) - MAX_SERVICES)
    document["run"] = {"id": run["id"], "started": run["started"], "finished": run["finished"],
                       "complete": run["complete"], "policy": run["policy"]}
    document["tool"] = {"name": "bolwerk", "version": tool_version}
    return document


def mail_text(diff: RunDiff, t: Mapping[str, Any], lang: str) -> tuple[str, str]:
    """(subject, body) in one language; `t` is that language's texts (reports/i18n.toml)."""
    down, up = diff.count("down"), diff.count("up")
    lines = [t["mail_intro"] % (diff.runs[1], diff.runs[0], diff.policies[1]), ""]
    if not diff.same_policy:
        lines += [t["mail_other_policy"] % diff.policies, ""]
    for direction, heading in (("down", t["mail_regressed"]), ("up", t["mail_improved"])):
        changes = [c for c in _ordered(diff) if c.direction == direction]
        if not changes:
            continue
        lines.append(f"{heading} ({len(changes)}):")
        for change in changes[:MAIL_SERVICES]:
            name = f"{change.name or change.id}" + (f" ({change.organisation})" if change.organisation else "")
            grade = f", {t['mail_grade']} {change.grade[0]} -> {change.grade[1]}" if change.grade else ""
            lines.append(f"- {name}{grade}")
            word = t["mail_new"] if direction == "down" else t["mail_fixed"]
            for f in (change.new if direction == "down" else change.fixed):
                if f["status"] == "fail":
                    message = f.get(f"message_{lang}") or f["message"]
                    lines.append(f"    {word}: {f['check']} {f['target']}: {message}")
        if len(changes) > MAIL_SERVICES:
            lines.append(t["mail_more"] % (len(changes) - MAIL_SERVICES))
        lines.append("")
    return t["mail_subject"] % (down, up), "\n".join(lines)
