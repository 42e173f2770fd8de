"""CAA (RFC 8659, RFC 8657): the property tags and the grammar of their values. Pure, linear.

`parse` reads one record (flags, tag, value) and returns what a CA takes from it with every
problem found, each with its 0-based offset in the value:

- flags: only the issuer-critical bit (128) is defined; the others MUST be clear (§4.1);
- tag: 1-15 letters and digits (§4.1.1); "auth", "path", "policy" are reserved (§7.2);
- issue, issuewild (and issuemail, issuevmc, same grammar): §4.2's ABNF. A value that does
  not match it MUST be treated as an empty issuer (§4.2): that record authorises no CA;
- RFC 8657 parameters of issue and issuewild: `accounturi` is a URI (§3), and
  `validationmethods` a comma-separated list of ACME challenge types or "ca-" labels (§4);
  a label no CA knows cannot be satisfied;
- iodef: a mailto:, http: or https: URL (§4.4) that names an address or a host;
- contactemail: one e-mail address, contactphone: an RFC 3966 global number (CA/Browser
  Forum Baseline Requirements, appendix A);
- an unknown tag with the critical flag forbids issuance altogether (§4.1).

The tables (known, reserved and issuance tags, iodef schemes, ACME methods) are
`data/dns/caa.toml`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from string import ascii_letters, digits
from typing import Any

from scanner.standards import read_toml, uri

ISSUER_CRITICAL = 128  # the flag that forbids issuance by a CA that does not know the tag (§4.1)
_ALNUM = frozenset(ascii_letters + digits)
_LDH = _ALNUM | {"-"}
_WSP = " \t"
_PARAM_VALUE = frozenset(chr(c) for c in range(0x21, 0x7F) if c != 0x3B)  # %x21-3A / %x3C-7E
_ATEXT = _ALNUM | frozenset("!#$%&'*+-/=?^_`{|}~")  # RFC 5322 §3.2.3
_PHONE_VISUAL = frozenset("-.()")  # RFC 3966 §5.1.4 visual-separator
_PARAMCHAR = _ALNUM | frozenset("[]/:&+$-_.!~*'()%")  # RFC 3966 paramchar


@cache
def _table() -> dict[str, Any]:
    return read_toml("dns", "caa.toml")


PROBLEMS = ("reserved_flags", "bad_tag", "reserved_tag", "bad_issuer", "bad_accounturi", "bad_validationmethods",
            "unknown_validationmethod", "bad_iodef", "bad_contactemail", "bad_contactphone", "unknown_critical")


@dataclass(frozen=True)
class Problem:
    """One of PROBLEMS, at a 0-based offset in the value, with a short detail."""

    code: str
    position: int = 0
    detail: str = ""


@dataclass(frozen=True)
class Property:
    flags: int
    tag: str  # lower-case
    value: str
    issuer: str | None = None  # the issuer domain of an issuer value ("" = none); None otherwise
    params: dict[str, str] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()


def valid_tag(tag: str) -> bool:
    """1-15 letters and digits (§4.1.1)."""
    return 1 <= len(tag) <= 15 and all(c in _ALNUM for c in tag)


def known_tag(tag: str) -> bool:
    return tag.lower() in _table()["known"]


def restricts_issuance(tag: str) -> bool:
    """`issue` or `issuewild`: a tag that says who may issue (§4.2, §4.3)."""
    return tag.lower() in _table()["issuance"]


def _label_run(s: str, i: int, chars: frozenset[str]) -> int:
    while i < len(s) and s[i] in chars:
        i += 1
    return i


def _bad_label(label: str) -> bool:
    """§4.2 label = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT)): no leading or trailing hyphen."""
    return not label or label[0] == "-" or label[-1] == "-"


def parse_issuer_value(value: str) -> tuple[str | None, dict[str, str], Problem | None]:
    """§4.2 issue-value: (issuer domain or "" when none, parameters, None), or (None, {}, problem)."""
    def fail(at: int, detail: str) -> tuple[None, dict[str, str], Problem]:
        return None, {}, Problem("bad_issuer", at, detail)

    i = _label_run(value, 0, frozenset(_WSP))
    end = _label_run(value, i, _LDH | {"."})
    issuer = value[i:end]
    at = i
    for label in issuer.split(".") if issuer else []:
        if _bad_label(label):
            return fail(at, "label")
        at += len(label) + 1
    i = _label_run(value, end, frozenset(_WSP))
    params: dict[str, str] = {}
    if i == len(value):
        return issuer.lower(), params, None
    if value[i] != ";":
        return fail(i, "expected ;")
    i = _label_run(value, i + 1, frozenset(_WSP))
    while i < len(value):
        end = _label_run(value, i, _LDH)
        tag = value[i:end]
        if _bad_label(tag):
            return fail(i, "parameter tag")
        i = _label_run(value, end, frozenset(_WSP))
        if i == len(value) or value[i] != "=":
            return fail(i, "expected =")
        i = _label_run(value, i + 1, frozenset(_WSP))
        end = _label_run(value, i, _PARAM_VALUE)
        params.setdefault(tag.lower(), value[i:end])
        i = _label_run(value, end, frozenset(_WSP))
        if i == len(value):
            break
        if value[i] != ";":
            return fail(i, "expected ;")
        i = _label_run(value, i + 1, frozenset(_WSP))
        if i == len(value):
            return fail(i, "trailing ;")
    return issuer.lower(), params, None


def _rfc8657(params: dict[str, str], value: str) -> list[Problem]:
    out = []
    if "accounturi" in params and (bad := uri.problem(params["accounturi"])) is not None:
        out.append(Problem("bad_accounturi", value.find("accounturi"), bad[1]))
    if "validationmethods" in params:
        where = value.find("validationmethods")
        labels = params["validationmethods"].split(",") if params["validationmethods"] else []
        if any(not label or any(c not in _LDH for c in label) for label in labels):
            out.append(Problem("bad_validationmethods", where))
        else:
            known = _table()["acme_methods"]
            unknown = [m for m in labels if m.lower() not in known
                       and not m.lower().startswith(_table()["ca_method_prefix"])]
            out += [Problem("unknown_validationmethod", where, m) for m in unknown]
    return out


def valid_email(text: str) -> bool:
    """RFC 5322 §3.4.1 addr-spec in its dot-atom form, the domain as LDH labels."""
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        return False
    if any(not atom or any(c not in _ATEXT for c in atom) for atom in local.split(".")):
        return False
    return all(label and not _bad_label(label) and all(c in _LDH for c in label) for label in domain.split("."))


def valid_global_number(text: str) -> bool:
    """RFC 3966 §5.1.4 global-number: "+" then digits and visual separators, then ;parameters."""
    number, *params = text.split(";")
    body = number[1:]
    if not number.startswith("+") or not any(c in digits for c in body) or any(
            c not in digits and c not in _PHONE_VISUAL for c in body):
        return False
    for param in params:
        name, eq, val = param.partition("=")
        if not name or any(c not in _LDH for c in name) or (eq and (not val or any(c not in _PARAMCHAR for c in val))):
            return False
    return True


def _iodef_problem(value: str) -> Problem | None:
    scheme = uri.scheme_of(value)
    if scheme not in _table()["iodef_schemes"]:
        return Problem("bad_iodef", 0, "scheme")
    if (bad := uri.problem(value)) is not None:
        return Problem("bad_iodef", bad[0], bad[1])
    if scheme == "mailto" and not valid_email(value[len("mailto:"):].split("?", 1)[0]):
        return Problem("bad_iodef", len("mailto:"), "address")
    return None


def parse(flags: int, tag: str, value: str) -> Property:
    """One CAA record as a CA reads it, with every problem (see the module docstring)."""
    problems: list[Problem] = []
    low = tag.lower()
    if flags & ~ISSUER_CRITICAL & 0xFF:
        problems.append(Problem("reserved_flags", 0, str(flags)))
    if not valid_tag(tag):
        return Property(flags, low, value, problems=(*problems, Problem("bad_tag")))
    issuer, params = None, {}
    if low in _table()["reserved"]:
        problems.append(Problem("reserved_tag"))
    elif low in _table()["issuer_values"]:
        issuer, params, bad = parse_issuer_value(value)
        if bad is not None:
            problems.append(bad)
            issuer = ""  # §4.2: a malformed value is treated as an empty issuer
        elif restricts_issuance(low):
            problems += _rfc8657(params, value)
    elif low == "iodef" and (bad := _iodef_problem(value)) is not None:
        problems.append(bad)
    elif low == "contactemail" and not valid_email(value.strip()):
        problems.append(Problem("bad_contactemail"))
    elif low == "contactphone" and not valid_global_number(value.strip()):
        problems.append(Problem("bad_contactphone"))
    if not known_tag(low) and flags & ISSUER_CRITICAL:
        problems.append(Problem("unknown_critical"))
    return Property(flags, low, value, issuer, params, tuple(problems))
