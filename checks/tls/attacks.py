"""Known TLS attacks, by name and CVE: the active tests' verdicts and those that follow from
what the probe already measured (versions, suites, DH groups, keys across the estate).

Which suites expose a server to which attack, and each attack's CVE ids, are data
(scanner/standards/data/tls/attacks.toml); every finding names the attack and its CVEs in
its evidence. Each verdict is shared with the mail pillar (checks/tls/view.py).
"""

from __future__ import annotations

from typing import Any

from checks.registry import NotMeasured, Outcome, failed, info, not_applicable, passed, warned
from checks.tls.view import UP_TO_TLS12, TlsView, item
from scanner.standards import tls_registry as reg
from scanner.standards.tls_attacks import Attack, attack


def _evidence(a: Attack, **more: Any) -> dict[str, Any]:
    return {"attack": a.name, "cve": list(a.cve), **more}


def _active(t: TlsView, key: str, a: Attack) -> Outcome:
    """Heartbleed, CCS injection: the test's verdict; not applicable to TLS 1.3-only servers."""
    vulnerable = t.vulnerability(key)
    if vulnerable is None:
        t.not_measured_unless(UP_TO_TLS12)
        if not t.offered(UP_TO_TLS12):
            return not_applicable("tls:only_tls13")
        raise NotMeasured("tls:test_not_run")
    if vulnerable:
        return failed("tls:attack_vulnerable", attack=a.name, cve=list(a.cve), evidence=_evidence(a))
    return passed("tls:attack_not_vulnerable", attack=a.name, evidence=_evidence(a))


def _derived(t: TlsView, a: Attack, *, versions: tuple[str, ...] = reg.PROTOCOLS) -> Outcome:
    """An attack that follows from the accepted suites: fail naming them, or pass."""
    t.not_measured_unless(versions)
    exposed = t.exposed(a)
    if exposed:
        return failed("tls:attack_suites", attack=a.name, suites=exposed[:6], evidence=_evidence(a, suites=exposed))
    return passed("tls:attack_no_suites", attack=a.name, evidence=_evidence(a))


@item("tls.attack.heartbleed", mail="mail.starttls.heartbleed", level="required", severity="critical")
def heartbleed(t: TlsView) -> Outcome:
    return _active(t, "heartbleed", attack("heartbleed"))


@item("tls.attack.ccs_injection", mail="mail.starttls.ccs_injection", level="required", severity="high")
def ccs_injection(t: TlsView) -> Outcome:
    return _active(t, "ccs_injection", attack("ccs_injection"))


@item("tls.attack.robot", mail="mail.starttls.robot", level="required", severity="high")
def robot(t: TlsView) -> Outcome:
    a = attack("robot")
    verdict = t.vulnerability("robot")
    evidence = _evidence(a, oracle=verdict)
    if verdict is None:
        raise NotMeasured("tls:test_not_run")
    if verdict == "no_rsa":
        return passed("tls:robot_no_rsa", evidence=evidence)
    if verdict == "no_oracle":
        return passed("tls:robot_no_oracle", evidence=evidence)
    if verdict == "inconsistent":
        return warned("tls:robot_inconsistent", evidence=evidence)
    strong = verdict == "strong_oracle"
    return failed("tls:robot_strong" if strong else "tls:robot_weak", evidence=evidence,
                  severity="critical" if strong else "medium")


@item("tls.attack.poodle", mail="mail.starttls.poodle", level="required", severity="high")
def poodle(t: TlsView) -> Outcome:
    return _derived(t, attack("poodle"), versions=("SSLv3",))


@item("tls.attack.beast", mail="mail.starttls.beast", level="optional", severity="info")
def beast(t: TlsView) -> Outcome:
    a = attack("beast")
    t.not_measured_unless(("SSLv3", "TLSv1.0"))
    exposed = t.exposed(a)
    if exposed:  # clients split records (1/n-1) since 2012: worth knowing, not a failure
        return info("tls:beast_exposed", suites=exposed[:6], evidence=_evidence(a, suites=exposed))
    return passed("tls:attack_no_suites", attack=a.name, evidence=_evidence(a))


@item("tls.attack.sweet32", mail="mail.starttls.sweet32", level="recommended", severity="medium")
def sweet32(t: TlsView) -> Outcome:
    return _derived(t, attack("sweet32"))


@item("tls.attack.freak", mail="mail.starttls.freak", level="required", severity="high")
def freak(t: TlsView) -> Outcome:
    return _derived(t, attack("freak"))


@item("tls.attack.rc4", mail="mail.starttls.rc4", level="required", severity="high")
def rc4(t: TlsView) -> Outcome:
    return _derived(t, attack("rc4"))


@item("tls.attack.null_anon", mail="mail.starttls.null_anon", level="required", severity="critical")
def null_anon(t: TlsView) -> Outcome:
    return _derived(t, attack("null_anon"))


@item("tls.attack.logjam", mail="mail.starttls.logjam", level="required", severity="high")
def logjam(t: TlsView) -> Outcome:
    """Export DHE suites; a DH group under 1024 bits; a 1024-bit prime many servers share."""
    a = attack("logjam")
    export = t.exposed(a)
    groups = _dh_groups(t)
    weak = [f"{name} ({bits} bits)" for name, bits in groups if bits < a.rules["min_bits"]]
    shared = [f"{name} ({bits} bits)" for name, bits in groups
              if name and bits <= a.rules["shared_max_bits"] and f"{name} ({bits} bits)" not in weak]
    evidence = _evidence(a, export=export, groups=[f"{n or 'custom'} ({b} bits)" for n, b in groups])
    if export or weak:
        return failed("tls:logjam_weak", groups=export[:4] + weak, evidence=evidence)
    if shared:
        return failed("tls:logjam_shared", groups=shared, evidence=evidence)
    if any(bits <= a.rules["shared_max_bits"] for _, bits in groups):
        return warned("tls:logjam_custom_1024", evidence=evidence)
    return passed("tls:attack_no_suites", attack=a.name, evidence=evidence)


def _dh_groups(t: TlsView) -> list[tuple[str | None, int]]:
    """(well-known name or None, bits) of every finite-field DH group the server used."""
    out = []
    for per in (t.tls.get("kx") or {}).values():
        for d in per.values():
            if "dh_bits" in d and (d.get("dh_group"), d["dh_bits"]) not in out:
                out.append((d.get("dh_group"), d["dh_bits"]))
    return out


@item("tls.attack.drown", mail="mail.starttls.drown", level="required", severity="critical")
def drown(t: TlsView) -> Outcome:
    """SSL 2.0 here, or on any host of the estate that holds this certificate's key."""
    a = attack("drown")
    sslv2 = (t.tls.get("protocols") or {}).get("SSLv2")
    if sslv2:
        return failed("tls:drown_here", evidence=_evidence(a))
    if sslv2 is None:
        raise NotMeasured("tls:versions_untried", versions=["SSLv2"])
    keys = (t.estate.get("sslv2_keys") or {})
    elsewhere = [target for target in keys.get(t.key or "", []) if target != t.target]
    if elsewhere:
        return failed("tls:drown_shared_key", hosts=elsewhere[:5], evidence=_evidence(a, hosts=elsewhere))
    if keys and t.key is None:
        raise NotMeasured("tls:drown_no_key")
    return passed("tls:drown_none", evidence=_evidence(a))


@item("tls.attack.lucky13", mail="mail.starttls.lucky13", level="optional", severity="info")
def lucky13(t: TlsView) -> Outcome:
    a = attack("lucky13")
    t.not_measured_unless(UP_TO_TLS12)
    exposed = t.exposed(a)
    if not exposed:
        return passed("tls:attack_no_suites", attack=a.name, evidence=_evidence(a))
    if (t.tls.get("behaviour") or {}).get("encrypt_then_mac"):
        return passed("tls:lucky13_etm", evidence=_evidence(a, suites=exposed))
    return info("tls:lucky13_cbc", suites=exposed[:6], evidence=_evidence(a, suites=exposed))
