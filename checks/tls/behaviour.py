"""How the server behaves: suite order, compression, renegotiation, Extended Master Secret,
fallback protection, ALPN, resumption, 0-RTT, encrypt-then-MAC, reused ephemeral keys.

Facts: `tls.behaviour` and `tls.server_preference` (scanner/probes/tls/examine.py). Each
verdict is shared with the mail pillar (checks/tls/view.py); a fact the probe could not
establish is not measured, and a question that does not arise (no TLS 1.2 or older, a
single version, no CBC suite) is not applicable.
"""

from __future__ import annotations

from checks.catalogue import Phrase
from checks.registry import NotMeasured, Outcome, failed, not_applicable, passed, warned
from checks.tls.protocol import classification
from checks.tls.view import LEGACY_TLS, UP_TO_TLS12, TlsView, item
from scanner.standards.tls_attacks import attack
from scanner.standards.tls_classification import DEFAULT, LEVELS

TICKET_LIFETIME = {"tls.ticket_lifetime_max": 86400}


def _absent(t: TlsView, fact: object, versions: tuple[str, ...] = LEGACY_TLS) -> Outcome | None:
    """For a TLS <= 1.2 property: None when `fact` was measured, not applicable when the
    server has no such version; otherwise not measured."""
    if fact is not None:
        return None
    t.not_measured_unless(versions)
    if not t.offered(versions):
        return not_applicable("tls:only_tls13")
    raise NotMeasured("tls:test_not_run")


def _worse_before_better(cls, order: list[str]) -> tuple[str, str] | None:
    """The first suite the server prefers over a better one (by classification level)."""
    for i, worse in enumerate(order):
        better = next((n for n in order[i + 1:] if LEVELS.index(cls.suite(n)) < LEVELS.index(cls.suite(worse))), None)
        if better is not None:
            return worse, better
    return None


@item("tls.suites.order", mail="mail.starttls.order", level="recommended", severity="medium",
      thresholds={"tls.classification": DEFAULT})
def suite_order(t: TlsView) -> Outcome:
    """NCSC-NL 2025: the server picks the suite, and prefers good over sufficient over phase-out."""
    cls = classification(t)
    preference = t.tls.get("server_preference") or {}
    orders = t.behaviour("suite_preference") or {}
    client, worse_first, unknown, judged = [], [], [], []
    for version, names in (t.tls.get("cipher_suites") or {}).items():
        levels = [LEVELS.index(cls.suite(n)) for n in names]
        if version == "SSLv2" or len(set(levels)) < 2:
            continue  # one level only: the order cannot pick a worse suite
        judged.append(version)
        if preference.get(version) is False:
            client.append(version)
        elif preference.get(version) is None or version not in orders:
            unknown.append(version)
        elif (pair := _worse_before_better(cls, orders[version])) is not None:
            worse_first.append(f"{version}: {pair[0]} > {pair[1]}")
    evidence = {"server_preference": dict(preference), "classification": cls.id}
    if client:
        return failed("tls:order_client", versions=client, evidence=evidence)
    if worse_first:
        return failed("tls:order_worse_first", classification=cls.title, versions=worse_first,
                      evidence=evidence | {"order": dict(orders)})
    if unknown:
        raise NotMeasured("tls:order_unknown", versions=unknown)
    if not judged:
        return not_applicable("tls:order_one_level")
    return passed("tls:order_good_first", versions=judged, classification=cls.title, evidence=evidence)


@item("tls.compression", mail="mail.starttls.compression", level="required", severity="high")
def compression(t: TlsView) -> Outcome:
    on = t.behaviour("compression")
    if (na := _absent(t, on, UP_TO_TLS12)) is not None:
        return na
    evidence = {"attack": "CRIME", "cve": list(attack("crime").cve)}
    if on:
        return failed("tls:compression_on", evidence=evidence)
    return passed("tls:compression_off", evidence=evidence)


@item("tls.renegotiation.secure", mail="mail.starttls.renegotiation", level="required", severity="high")
def secure_renegotiation(t: TlsView) -> Outcome:
    secure = t.behaviour("secure_renegotiation")
    if (na := _absent(t, secure)) is not None:
        return na
    confirmed = t.vulnerability("insecure_renegotiation")
    evidence = {"attack": "insecure renegotiation", "cve": list(attack("insecure_renegotiation").cve),
                "renegotiated_insecurely": confirmed}
    if secure:
        return passed("tls:renegotiation_secure", evidence=evidence)
    if confirmed:
        return failed("tls:renegotiation_insecure_confirmed", evidence=evidence)
    return failed("tls:renegotiation_insecure", evidence=evidence)


@item("tls.renegotiation.client", mail="mail.starttls.client_renegotiation", level="recommended",
      severity="medium")
def client_renegotiation(t: TlsView) -> Outcome:
    tried = t.behaviour("client_renegotiation")
    if (na := _absent(t, tried)) is not None:
        return na
    accepted, attempted = tried["accepted"], tried["attempted"]
    evidence = {"accepted": accepted, "attempted": attempted, "cve": list(attack("client_renegotiation").cve)}
    if accepted and accepted >= attempted:
        return warned("tls:client_renegotiation_accepted", accepted=accepted, evidence=evidence)
    if accepted:
        return passed("tls:client_renegotiation_limited", accepted=accepted, evidence=evidence)
    return passed("tls:client_renegotiation_refused", evidence=evidence)


@item("tls.extended_master_secret", mail="mail.starttls.extended_master_secret", level="required",
      severity="medium")
def extended_master_secret(t: TlsView) -> Outcome:
    ems = t.behaviour("extended_master_secret")
    if (na := _absent(t, ems)) is not None:
        return na
    if ems:
        return passed("tls:ems_on")
    return failed("tls:ems_off", versions=t.offered(LEGACY_TLS))


@item("tls.fallback_scsv", mail="mail.starttls.fallback_scsv", level="recommended", severity="low")
def fallback_scsv(t: TlsView) -> Outcome:
    protected = t.behaviour("fallback_scsv")
    offered = t.offered(("TLSv1.3", *reversed(UP_TO_TLS12)))
    if protected is None:
        if len(offered) < 2 and not t.untried(("TLSv1.3", *UP_TO_TLS12)):
            return not_applicable("tls:fallback_one_version")
        raise NotMeasured("tls:test_not_run")
    if protected:
        return passed("tls:fallback_refused", version=offered[1] if len(offered) > 1 else "-")
    return failed("tls:fallback_accepted", version=offered[1] if len(offered) > 1 else "-")


@item("tls.alpn", mail=None, level="optional", severity="info")
def alpn(t: TlsView) -> Outcome:
    facts = t.behaviour("alpn")
    if facts is None:
        raise NotMeasured("tls:test_not_run")
    selected = facts.get("selected")
    evidence = {"offered": facts.get("offered"), "selected": selected}
    if selected:
        return passed("tls:alpn_selected", protocol=selected, evidence=evidence)
    return warned("tls:alpn_none", evidence=evidence)


@item("tls.resumption", mail="mail.starttls.resumption", level="optional", severity="info",
      thresholds=TICKET_LIFETIME)
def resumption(t: TlsView) -> Outcome:
    ways = t.behaviour("resumption") or {}
    lifetime = t.behaviour("ticket_lifetime")
    if all(v is None for v in ways.values()):
        raise NotMeasured("tls:test_not_run")
    limit = int(t.thresholds.get("tls.ticket_lifetime_max", 86400))
    evidence = {**ways, "ticket_lifetime": lifetime}
    resumed = [way for way, ok in ways.items() if ok]
    if not resumed:
        return warned("tls:resumption_none", evidence=evidence)
    if ways.get("ticket") and lifetime is not None and lifetime > limit:
        return warned("tls:ticket_lifetime_long", hours=round(lifetime / 3600, 1), limit=round(limit / 3600, 1),
                      evidence=evidence)
    return passed("tls:resumption_works", ways=[Phrase(f"tls:way_{way}") for way in resumed], evidence=evidence)


@item("tls.early_data", mail="mail.starttls.early_data", level="recommended", severity="medium")
def early_data(t: TlsView) -> Outcome:
    size = t.behaviour("early_data")
    if size is None:
        t.not_measured_unless(("TLSv1.3",))
        if not t.offered(("TLSv1.3",)):
            return not_applicable("tls:no_tls13")
        if t.behaviour("tickets") is False:
            return passed("tls:early_data_no_tickets")
        raise NotMeasured("tls:test_not_run")
    if size > 0:
        return failed("tls:early_data_offered", size=size, evidence={"max_early_data": size})
    return passed("tls:early_data_not_offered")


@item("tls.encrypt_then_mac", mail="mail.starttls.encrypt_then_mac", level="optional", severity="low")
def encrypt_then_mac(t: TlsView) -> Outcome:
    etm = t.behaviour("encrypt_then_mac")
    cbc = t.exposed(attack("lucky13"))
    if not cbc:
        return not_applicable("tls:no_cbc")
    if etm is None:
        raise NotMeasured("tls:test_not_run")
    if etm:
        return passed("tls:etm_on", evidence={"cbc": cbc[:8]})
    return warned("tls:etm_off", suites=cbc[:4], evidence={"cbc": cbc[:8]})


@item("tls.ephemeral_reuse", mail="mail.starttls.ephemeral_reuse", level="recommended", severity="medium")
def ephemeral_reuse(t: TlsView) -> Outcome:
    reuse = t.behaviour("ephemeral_reuse") or {}
    evidence = {"reused": {k: v for k, v in reuse.items()}, "cve": list(attack("raccoon").cve)}
    if reuse.get("dhe"):
        return failed("tls:reuse_dhe", evidence=evidence)
    if reuse.get("ecdhe"):
        return failed("tls:reuse_ecdhe", evidence=evidence)
    kinds = {d.kex for _, _, d in t.suites() if d and d.fs}
    if not kinds:
        return not_applicable("tls:no_ephemeral")
    if all(v is None for v in reuse.values()):
        raise NotMeasured("tls:reuse_unknown")
    return passed("tls:reuse_none", evidence=evidence)
