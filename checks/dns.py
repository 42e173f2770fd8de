"""DNS pillar: DNSSEC, delegation health, IPv6, CAA and takeover risks.

Two subjects. On an endpoint: what its host name resolves to (DNSSEC of the answer,
IPv6, CAA, a dangling alias). On a domain (every registrable domain of a service and
every declared mail domain): the zone it lives in (DNSSEC hygiene, the delegation and
its name servers, dangling NS and MX records, the mail hosts' IPv6). A zone shared by
many hosts is judged once per domain, where its owner fixes it.

Standards tables are data, read through `scanner/standards/`: DNSSEC algorithms (RFC 8624,
RFC 9905) and NSEC3 limits (RFC 9276) in `standards.dnssec`, deprovisionable services in `takeover`,
the CAA grammar in `caa`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from checks.common import CABF, INTERNET_NL, parse_time
from checks.registry import (
    CheckContext,
    NotMeasured,
    check,
    failed,
    info,
    not_applicable,
    passed,
    warned,
)
from scanner.standards import caa as caa_grammar
from scanner.standards import dnssec as dnssec_tables
from scanner.standards import takeover


def _zone(ctx: CheckContext) -> Mapping[str, Any]:
    """The domain's DNS facts, insisting the zone part was collected."""
    sec = ctx.section("dns")
    if sec.get("zone_error"):
        raise NotMeasured(sec["zone_error"])
    return sec


# ------------------------------------------------------------------------------------ DNSSEC


def _dnssec(ctx: CheckContext, what: str, what_nl: str):
    sec = ctx.section("dns")
    status, reason = sec.get("dnssec"), sec.get("dnssec_reason")
    if status is None:
        raise NotMeasured(reason or "DNSSEC status unknown")
    evidence = {"reason": reason} if reason else {}
    if sec.get("dnssec_source", "bolwerk") != "bolwerk":
        evidence["source"] = sec["dnssec_source"]
    if status == "bogus":
        return failed(f"DNSSEC validation fails: {reason}", evidence=evidence, severity="critical",
                      message_nl=f"DNSSEC-validatie mislukt: {reason}")
    if status == "insecure":
        return failed(f"{what} cannot be validated with DNSSEC: {reason}", evidence=evidence,
                      message_nl=f"{what_nl} kan niet met DNSSEC gevalideerd worden: {reason}")
    if evidence.get("source"):
        return passed(f"{what} is DNSSEC-signed ({reason})", evidence=evidence,
                      message_nl=f"{what_nl} is ondertekend met DNSSEC (volgens de AD-bit van de resolver)")
    return passed(f"{what} is DNSSEC-signed and validates from the root", evidence=evidence,
                  message_nl=f"{what_nl} is ondertekend met DNSSEC en valideert vanaf de root")


_DNSSEC_TEXTS = dict(
    remediation={
        "en": "Sign the zone with DNSSEC (algorithm 13 or 15), publish its DS record at the parent, "
              "and keep the signatures and denial records (NSEC/NSEC3) valid.",
        "nl": "Onderteken de zone met DNSSEC (algoritme 13 of 15), publiceer het DS-record bij de "
              "bovenliggende zone en houd de handtekeningen en de NSEC/NSEC3-records geldig.",
    },
    references=("RFC 4033", "RFC 4035", "RFC 5155", INTERNET_NL),
)


@check(
    "dns.dnssec",
    pillar="dns", level="required", severity="high",
    title={"en": "The host name is DNSSEC-signed", "nl": "De hostnaam is ondertekend met DNSSEC"},
    **_DNSSEC_TEXTS,
)
def dnssec(ctx: CheckContext):
    return _dnssec(ctx, "the host name", "de hostnaam")


@check(
    "dns.dnssec.domain",
    pillar="dns", level="required", severity="high", subject="mail_domain",
    title={"en": "The domain is DNSSEC-signed", "nl": "Het domein is ondertekend met DNSSEC"},
    **_DNSSEC_TEXTS,
)
def dnssec_domain(ctx: CheckContext):
    outcome = _dnssec(ctx, "the domain", "het domein")
    proof = (ctx.section("dns").get("dnssec_zone") or {}).get("denial_proof") or {}
    if outcome.status == "pass" and proof.get("status") == "bogus":
        return failed(f"the zone's proof that a name does not exist fails validation: {proof.get('reason')}",
                      evidence={"name": proof.get("name"), "reason": proof.get("reason")}, severity="critical",
                      message_nl="het bewijs van de zone dat een naam niet bestaat (NSEC/NSEC3) valideert niet: "
                                 f"{proof.get('reason')}")
    return outcome


def _signed_zone(ctx: CheckContext) -> Mapping[str, Any] | None:
    zone = _zone(ctx).get("dnssec_zone")
    if zone is None:
        raise NotMeasured("the zone's DNSSEC facts were not collected")
    if not zone.get("signed") and zone.get("error"):  # a failed DNSKEY lookup is no proof of an unsigned zone
        raise NotMeasured(zone["error"])
    return zone if zone.get("signed") else None


@check(
    "dns.dnssec.expiry",
    pillar="dns", level="recommended", severity="high", subject="mail_domain",
    title={"en": "DNSSEC signatures are not about to expire",
           "nl": "De DNSSEC-handtekeningen verlopen niet binnenkort"},
    remediation={
        "en": "Re-sign the zone well before its signatures expire (automate it); check the signer's "
              "schedule and that the primary still feeds the signer.",
        "nl": "Onderteken de zone ruim voor de handtekeningen verlopen opnieuw (automatiseer dit); "
              "controleer de planning van het ondertekenen en of de primaire server de ondertekenaar nog van gegevens voorziet.",
    },
    references=("RFC 4034 §3.1.5", "RFC 6781 §4.4"),
    thresholds={"dnssec_expiry_warn_days": 7},
)
def dnssec_expiry(ctx: CheckContext):
    zone = _signed_zone(ctx)
    if zone is None:
        return not_applicable("the zone is not signed", message_nl="de zone is niet ondertekend")
    sigs = zone.get("rrsig") or []
    if not sigs:
        raise NotMeasured("no signatures over the zone's SOA, NS or DNSKEY records were seen")
    first = min(sigs, key=lambda s: s["expiration"])
    days = (parse_time(first["expiration"]) - ctx.now).total_seconds() / 86400
    evidence = {"rrset": first["rrset"], "expiration": first["expiration"], "days_left": round(days, 1)}
    if days < 0:
        return failed(f"the signature over {first['rrset']} expired on {first['expiration']}", evidence=evidence,
                      severity="critical",
                      message_nl=f"de handtekening over {first['rrset']} is verlopen op {first['expiration']}")
    if days < ctx.threshold("dnssec_expiry_warn_days"):
        return warned(f"the signature over {first['rrset']} expires in {days:.1f} days ({first['expiration']})",
                      evidence=evidence, message_nl=f"de handtekening over {first['rrset']} verloopt over "
                                                    f"{days:.1f} dagen ({first['expiration']})")
    return passed(f"the earliest signature expires in {days:.0f} days", evidence=evidence,
                  message_nl=f"de eerste handtekening verloopt over {days:.0f} dagen")


@check(
    "dns.dnssec.algorithm",
    pillar="dns", level="recommended", severity="medium", subject="mail_domain",
    title={"en": "DNSSEC uses current algorithms and digests",
           "nl": "DNSSEC gebruikt actuele algoritmen en hashfuncties"},
    remediation={
        "en": "Roll the keys over to ECDSAP256SHA256 (13) or ED25519 (15) and publish DS records with "
              "SHA-256 (digest type 2) only; RSA keys need at least 2048 bits.",
        "nl": "Vervang de sleutels door ECDSAP256SHA256 (13) of ED25519 (15) en publiceer alleen "
              "DS-records met SHA-256 (digesttype 2); RSA-sleutels hebben minstens 2048 bits nodig.",
    },
    references=("RFC 8624", "RFC 9904", "RFC 9905"),
    thresholds={"dnssec_rsa_min_bits": 2048},
)
def dnssec_algorithm(ctx: CheckContext):
    zone = _signed_zone(ctx)
    if zone is None:
        return not_applicable("the zone is not signed", message_nl="de zone is niet ondertekend")
    bad, weak = [], []

    def rate(entry: Mapping[str, Any] | None, label: str, unknown: str) -> None:
        if entry is None:
            weak.append(f"{label}: {unknown} without recommendation")
        elif entry["sign"] == "MUST NOT":
            bad.append(f"{label}: {entry['note']}")
        elif entry["sign"] == "NOT RECOMMENDED":
            weak.append(f"{label}: {entry['note']}")

    for key in zone.get("dnskey") or []:
        entry = dnssec_tables.algorithm(key["algorithm"])
        label = f"DNSKEY {key['key_tag']} {entry['name'] if entry else key['algorithm']}"
        rate(entry, label, "an algorithm")
        if entry and entry.get("rsa") and key.get("key_bits") and key["key_bits"] < ctx.threshold("dnssec_rsa_min_bits"):
            weak.append(f"{label}: RSA key of {key['key_bits']} bits")
    for ds in zone.get("ds") or []:
        entry = dnssec_tables.digest(ds["digest_type"])
        rate(entry, f"DS {ds['key_tag']} digest {entry['name'] if entry else ds['digest_type']}", "a digest type")
    if bad:
        return failed("; ".join(bad), evidence={"problems": bad + weak},
                      message_nl="verboden algoritme of hashfunctie: " + "; ".join(bad))
    if weak:
        return warned("; ".join(weak), evidence={"problems": weak},
                      message_nl="afgeraden algoritme, hashfunctie of sleutellengte: " + "; ".join(weak))
    names = sorted({k["algorithm_name"] for k in zone.get("dnskey") or []})
    return passed(f"keys use {', '.join(names) or 'current algorithms'}",
                  message_nl=f"de sleutels gebruiken {', '.join(names) or 'actuele algoritmen'}",
                  evidence={"algorithms": names, "digests": sorted({d["digest_name"] for d in zone.get("ds") or []})})


@check(
    "dns.dnssec.nsec3",
    pillar="dns", level="recommended", severity="low", subject="mail_domain",
    title={"en": "NSEC3 parameters follow RFC 9276", "nl": "De NSEC3-parameters volgen RFC 9276"},
    remediation={
        "en": "Set NSEC3 iterations to 0 and use no salt (NSEC3PARAM 1 0 0 -), or use NSEC.",
        "nl": "Zet het aantal NSEC3-iteraties op 0 en gebruik geen salt (NSEC3PARAM 1 0 0 -), of gebruik NSEC.",
    },
    references=("RFC 9276", "RFC 5155"),
)
def dnssec_nsec3(ctx: CheckContext):
    zone = _signed_zone(ctx)
    if zone is None:
        return not_applicable("the zone is not signed", message_nl="de zone is niet ondertekend")
    params, denial = zone.get("nsec3"), zone.get("denial")
    if denial is None:
        raise NotMeasured("no NSEC or NSEC3 record was seen in a denial from the zone")
    if denial != "nsec3" or not params:
        return not_applicable(f"the zone uses {denial.upper()}", message_nl=f"de zone gebruikt {denial.upper()}")
    limits = dnssec_tables.nsec3_limits()
    evidence = dict(params)
    if params["iterations"] > limits["validator"]["insecure_above_iterations"]:
        return failed(f"{params['iterations']} NSEC3 iterations: validators treat the zone's denials as insecure "
                      f"above {limits['validator']['insecure_above_iterations']}", evidence=evidence,
                      severity="medium", message_nl=f"{params['iterations']} NSEC3-iteraties: validerende resolvers "
                                                    "vertrouwen de ontkenningen van de zone dan niet meer")
    problems = []  # (English, Dutch)
    if params["iterations"] > limits["signer"]["max_iterations"]:
        problems.append((f"{params['iterations']} iterations (RFC 9276: 0)",
                         f"{params['iterations']} iteraties (RFC 9276: 0)"))
    if params.get("salt") and not limits["signer"]["salt"]:
        problems.append((f"a salt ({params['salt']}) (RFC 9276: none)", f"een salt ({params['salt']}) (RFC 9276: geen)"))
    if problems:
        return warned("NSEC3 uses " + " and ".join(en for en, _ in problems), evidence=evidence,
                      message_nl="NSEC3 gebruikt " + " en ".join(nl for _, nl in problems))
    return passed("NSEC3 with 0 iterations and no salt", evidence=evidence,
                  message_nl="NSEC3 met 0 iteraties en zonder salt")


# ------------------------------------------------------------------------------------ delegation


def _delegation(ctx: CheckContext) -> Mapping[str, Any]:
    deleg = _zone(ctx).get("delegation")
    if deleg is None:
        raise NotMeasured("the zone's delegation was not collected")
    if not deleg.get("servers"):
        raise NotMeasured(deleg.get("error") or "no name servers found")
    return deleg


_NS_REFS = ("RFC 1034 §4.1", "RFC 2182 §5")


@check(
    "dns.ns.count",
    pillar="dns", level="recommended", severity="medium", subject="mail_domain",
    title={"en": "At least two name servers serve the zone", "nl": "Minstens twee naamservers bedienen de zone"},
    remediation={
        "en": "Have at least two name servers serve the zone and list them all at the parent.",
        "nl": "Laat minstens twee naamservers de zone bedienen en registreer ze allemaal bij de bovenliggende zone.",
    },
    references=_NS_REFS,
)
def ns_count(ctx: CheckContext):
    names = [s["name"] for s in _delegation(ctx)["servers"]]
    if len(names) >= 2:
        return passed(f"{len(names)} name servers", evidence={"name_servers": names},
                      message_nl=f"{len(names)} naamservers")
    return failed(f"only one name server: {names[0]}", evidence={"name_servers": names},
                  message_nl=f"slechts één naamserver: {names[0]}")


def _network(address: str, v4: int, v6: int) -> str:
    addr = ipaddress.ip_address(address.split("%", 1)[0])
    return str(ipaddress.ip_network(f"{addr}/{v4 if addr.version == 4 else v6}", strict=False))


@check(
    "dns.ns.networks",
    pillar="dns", level="recommended", severity="low", subject="mail_domain",
    title={"en": "The name servers are on more than one network",
           "nl": "De naamservers staan op meer dan één netwerk"},
    remediation={
        "en": "Place name servers in different networks (and preferably different autonomous systems), "
              "so one outage or attack does not take the whole zone down.",
        "nl": "Plaats de naamservers in verschillende netwerken (bij voorkeur bij verschillende aanbieders), "
              "zodat één storing of aanval niet de hele zone onbereikbaar maakt.",
    },
    references=("RFC 2182 §3.1",),
    thresholds={"ns_ipv4_prefix": 24, "ns_ipv6_prefix": 48},
)
def ns_networks(ctx: CheckContext):
    v4, v6 = ctx.threshold("ns_ipv4_prefix"), ctx.threshold("ns_ipv6_prefix")
    addresses = sorted({a for s in _delegation(ctx)["servers"] for a in s.get("addresses") or []})
    if not addresses:
        raise NotMeasured("no name server address could be found")
    networks = sorted({_network(a, v4, v6) for a in addresses})
    rule = f"networks counted as IPv4 /{v4} and IPv6 /{v6}"
    evidence = {"networks": networks, "rule": rule}
    if len(networks) >= 2:
        return passed(f"{len(networks)} networks ({rule})", evidence=evidence,
                      message_nl=f"{len(networks)} netwerken (IPv4 per /{v4}, IPv6 per /{v6})")
    return failed(f"every name server address lies in {networks[0]} ({rule})", evidence=evidence,
                  message_nl=f"alle naamservers liggen in {networks[0]} (IPv4 per /{v4}, IPv6 per /{v6})")


# answer statuses that say the scanner could not reach the address, not that the server failed
UNREACHABLE = ("no-route", "refused-by-scanner")


def _answers(deleg: Mapping[str, Any]):
    for server in deleg["servers"]:
        for answer in server.get("answers") or []:
            yield server, answer


@check(
    "dns.ns.ipv6",
    pillar="dns", level="recommended", severity="low", subject="mail_domain",
    title={"en": "The zone is reachable over IPv6", "nl": "De zone is bereikbaar via IPv6"},
    remediation={
        "en": "Give the name servers IPv6 addresses (AAAA records and glue) and make them answer over IPv6.",
        "nl": "Geef de naamservers IPv6-adressen (AAAA-records en glue) en laat ze via IPv6 antwoorden.",
    },
    references=(INTERNET_NL, "RFC 3901"),
)
def ns_ipv6(ctx: CheckContext):
    deleg = _delegation(ctx)
    v6 = [(s["name"], a) for s, a in _answers(deleg) if ":" in a["address"]]
    if not v6:
        return warned("no name server has an IPv6 address", message_nl="geen enkele naamserver heeft een IPv6-adres",
                      evidence={"name_servers": [s["name"] for s in deleg["servers"]]})
    good = sorted({name for name, a in v6 if a.get("authoritative")})
    if good:
        return passed(f"answers over IPv6 at {', '.join(good)}", evidence={"name_servers": good},
                      message_nl=f"antwoordt via IPv6 op {', '.join(good)}")
    if all(a["status"] in UNREACHABLE for _, a in v6):
        raise NotMeasured(f"the scanner cannot reach IPv6 name servers: {v6[0][1].get('detail')}")
    silent = ", ".join(sorted({f"{n} ({a['address']})" for n, a in v6}))
    return failed(f"the name servers' IPv6 addresses do not answer for the zone: {silent}",
                  message_nl=f"de IPv6-adressen van de naamservers antwoorden niet voor de zone: {silent}",
                  evidence={"addresses": [f"{n} {a['address']}: {a.get('detail')}" for n, a in v6]})


@check(
    "dns.ns.lame",
    pillar="dns", level="recommended", severity="medium", subject="mail_domain",
    title={"en": "Every listed name server answers authoritatively (no lame delegation)",
           "nl": "Elke vermelde naamserver antwoordt gezaghebbend (geen 'lame delegation')"},
    remediation={
        "en": "Remove name servers that no longer serve the zone from the delegation and the zone's NS "
              "records, or configure them to serve it again.",
        "nl": "Verwijder naamservers die de zone niet meer bedienen uit de delegatie en uit de NS-records van "
              "de zone, of laat ze de zone opnieuw bedienen.",
    },
    references=("RFC 1912 §2.8", "RFC 9499 §7 (lame delegation)", "RFC 7766"),
)
def ns_lame(ctx: CheckContext):
    deleg = _delegation(ctx)
    problems, good, unmeasured = [], [], []
    for server in deleg["servers"]:
        if not server.get("addresses"):
            problems.append(f"{server['name']}: no address ({server.get('rcode')})")
    for server, answer in _answers(deleg):
        where = f"{server['name']} ({answer['address']})"
        if answer["status"] in UNREACHABLE:
            unmeasured.append(f"{where}: {answer.get('detail')}")
        elif answer.get("authoritative"):
            good.append(where)
        else:
            problems.append(f"{where}: {answer.get('detail')}")
    if problems:
        return failed(f"{len(problems)} name server address(es) do not answer authoritatively: {problems[0]}",
                      evidence={"lame": problems, "authoritative": good},
                      message_nl=f"{len(problems)} naamserveradres(sen) antwoorden niet gezaghebbend: {problems[0]}")
    if not good:
        raise NotMeasured("; ".join(unmeasured) or "no name server could be asked")
    return passed(f"{len(good)} name server address(es) answer authoritatively",
                  message_nl=f"{len(good)} naamserveradres(sen) antwoorden gezaghebbend",
                  evidence={"authoritative": good, "not_measured": unmeasured})


@check(
    "dns.ns.consistency",
    pillar="dns", level="recommended", severity="low", subject="mail_domain",
    title={"en": "The parent and the zone list the same name servers",
           "nl": "De bovenliggende zone en de zone zelf vermelden dezelfde naamservers"},
    remediation={
        "en": "Make the NS records at the registrar (parent) and in the zone identical.",
        "nl": "Maak de NS-records bij de registrar (bovenliggende zone) en in de zone zelf gelijk.",
    },
    references=("RFC 1034 §4.2.2", "RFC 2181 §5.4.1"),
)
def ns_consistency(ctx: CheckContext):
    deleg = _delegation(ctx)
    parent, child = deleg.get("parent_ns"), deleg.get("child_ns")
    if parent is None:
        return info(f"the parent's delegation could not be seen apart: {deleg.get('parent_note')}",
                    message_nl="de delegatie in de bovenliggende zone is niet apart zichtbaar")
    if child is None:
        raise NotMeasured(deleg.get("child_error") or "the zone's own NS records could not be read")
    if set(parent) == set(child):
        return passed("the parent and the zone list the same name servers", evidence={"name_servers": child},
                      message_nl="de bovenliggende zone en de zone vermelden dezelfde naamservers")
    return warned("the parent and the zone list different name servers",
                  message_nl="de bovenliggende zone en de zone vermelden verschillende naamservers",
                  evidence={"only_at_parent": sorted(set(parent) - set(child)),
                            "only_in_zone": sorted(set(child) - set(parent))})


@check(
    "dns.ns.axfr",
    pillar="dns", level="recommended", severity="medium", subject="mail_domain",
    title={"en": "Name servers refuse zone transfers to strangers",
           "nl": "Naamservers weigeren zoneoverdrachten aan onbekenden"},
    remediation={
        "en": "Allow AXFR/IXFR only to the secondary servers (by address and TSIG key).",
        "nl": "Sta AXFR/IXFR alleen toe aan de secundaire servers (op adres en met een TSIG-sleutel).",
    },
    references=("RFC 5936 §6", "CIS BIND benchmark"),
)
def ns_axfr(ctx: CheckContext):
    deleg = _delegation(ctx)
    results = [(f"{s['name']} ({a['address']})", a.get("axfr")) for s, a in _answers(deleg)]
    open_ = [where for where, allowed in results if allowed]
    if open_:
        return failed(f"zone transfer allowed at {', '.join(open_)}", evidence={"open": open_},
                      message_nl=f"zoneoverdracht toegestaan op {', '.join(open_)}")
    refused = [where for where, allowed in results if allowed is False]
    if not refused:
        raise NotMeasured("no name server could be asked for a zone transfer")
    return passed(f"zone transfer refused at {len(refused)} address(es)", evidence={"refused": refused},
                  message_nl=f"zoneoverdracht geweigerd op {len(refused)} adres(sen)")


# ------------------------------------------------------------------------------------ takeover


_TAKEOVER_REFS = ("RFC 9499 §7", "OWASP WSTG-CONF-10 (subdomain takeover)")


@check(
    "dns.dangling",
    pillar="dns", level="required", severity="high",
    title={"en": "The host name is no dangling alias (no takeover risk)",
           "nl": "De hostnaam is geen loze alias (geen risico op overname)"},
    remediation={
        "en": "Remove the CNAME (or re-create the resource it points at) before releasing a cloud or "
              "hosting resource; keep an inventory of records that point at external services.",
        "nl": "Verwijder de CNAME (of maak de bron waarnaar hij wijst opnieuw aan) voordat u een cloud- of "
              "hostingdienst opzegt; houd bij welke records naar externe diensten wijzen.",
    },
    references=_TAKEOVER_REFS,
)
def dangling(ctx: CheckContext):
    sec = ctx.section("dns")
    rcode = ctx.fact("dns", "rcode")
    target = sec.get("cname_target")
    if not target:
        if rcode == "NXDOMAIN":
            return info("the host name does not exist", message_nl="de hostnaam bestaat niet")
        return passed("the host name is no alias", message_nl="de hostnaam is geen alias")
    name, provider = target["name"], takeover.provider(target["name"])
    evidence = {"chain": sec.get("cname"), "target": name, "rcode": target["rcode"]}
    if provider:
        evidence["service"] = provider["name"]
    if target["rcode"] == "NXDOMAIN":
        if provider and provider["claimable_when_nxdomain"]:
            return failed(f"the alias points at {name}, which no longer exists at {provider['name']}: anyone can "
                          "claim that name there and serve this host", evidence=evidence, severity="critical",
                          message_nl=f"de alias wijst naar {name}, dat niet meer bestaat bij {provider['name']}: "
                                     "iedereen kan die naam daar claimen en deze host overnemen")
        if target.get("domain_exists") is False:
            return failed(f"the alias points at {name}, whose domain {target['domain']} is not registered: anyone "
                          "can register it and serve this host", evidence=evidence, severity="critical",
                          message_nl=f"de alias wijst naar {name}, maar het domein {target['domain']} is niet "
                                     "geregistreerd: iedereen kan het registreren en deze host overnemen")
        return failed(f"the alias points at {name}, which does not exist (dangling)", evidence=evidence,
                      message_nl=f"de alias wijst naar {name}, dat niet bestaat (loze alias)")
    if provider:
        return info(f"the alias points at {provider['name']} ({name}): remove it when that service is "
                    "deprovisioned", evidence=evidence,
                    message_nl=f"de alias wijst naar {provider['name']} ({name}): verwijder hem wanneer u die "
                               "dienst opzegt")
    if not sec.get("ipv4") and not sec.get("ipv6"):
        return warned(f"the alias points at {name}, which has no address", evidence=evidence,
                      message_nl=f"de alias wijst naar {name}, dat geen adres heeft")
    return passed(f"the alias resolves through {name}", evidence=evidence,
                  message_nl=f"de alias verwijst naar {name}, dat bestaat")


@check(
    "dns.dangling.domain",
    pillar="dns", level="required", severity="high", subject="mail_domain",
    title={"en": "No NS or MX record points at a name that does not exist",
           "nl": "Geen NS- of MX-record wijst naar een naam die niet bestaat"},
    remediation={
        "en": "Remove NS and MX records that point at names which no longer exist or at DNS hosting that no "
              "longer serves the zone, at the parent as well as in the zone.",
        "nl": "Verwijder NS- en MX-records die wijzen naar namen die niet meer bestaan of naar DNS-hosting die "
              "de zone niet meer bedient, zowel bij de bovenliggende zone als in de zone zelf.",
    },
    references=_TAKEOVER_REFS,
)
def dangling_domain(ctx: CheckContext):
    sec = _zone(ctx)
    critical, critical_nl, dangling_ = [], [], []
    for server in _delegation(ctx)["servers"]:
        if server.get("rcode") == "NXDOMAIN" and not server.get("addresses"):
            dangling_.append(f"NS {server['name']} does not exist")
        host = takeover.provider(server["name"], "dns_host")
        if host and any(a.get("rcode") == "REFUSED" for a in server.get("answers") or []):
            critical.append(f"NS {server['name']} at {host['name']} refuses the zone: anyone with an account "
                            "there may create it")
            critical_nl.append(f"NS {server['name']} bij {host['name']} weigert de zone: iedereen met een account "
                               "daar kan ze aanmaken")
    if sec.get("mx_hosts") is None:
        raise NotMeasured("the MX hosts were not looked at")
    for mx in sec["mx_hosts"]:
        if mx.get("rcode") == "NXDOMAIN":
            dangling_.append(f"MX {mx['host']} does not exist")
    if critical:
        return failed(critical[0], evidence={"problems": critical + dangling_}, severity="critical",
                      message_nl=critical_nl[0])
    if dangling_:
        return failed("; ".join(dangling_), evidence={"problems": dangling_},
                      message_nl="NS- of MX-records wijzen naar namen die niet bestaan: "
                                 + ", ".join(d.removesuffix(" does not exist") for d in dangling_))
    return passed("every NS and MX target exists", message_nl="elk NS- en MX-doel bestaat")


# ------------------------------------------------------------------------------------ IPv6


@check(
    "dns.ipv6",
    pillar="dns", level="recommended", severity="low",
    title={"en": "The host is reachable over IPv6", "nl": "De host is bereikbaar via IPv6"},
    remediation={
        "en": "Publish an AAAA record and serve the site over IPv6 on the same port as over IPv4.",
        "nl": "Publiceer een AAAA-record en bied de site via IPv6 aan op dezelfde poort als via IPv4.",
    },
    references=(INTERNET_NL, "RFC 8200"),
)
def ipv6(ctx: CheckContext):
    sec = ctx.section("dns")
    if not ctx.fact("dns", "aaaa"):
        return warned("no AAAA record", message_nl="geen AAAA-record")
    reach = sec.get("ipv6_reach") or []
    evidence = {"ipv6": sec.get("ipv6", [])}
    if sec.get("ipv6_reachable") is True:
        return passed("AAAA record published and the service answers over IPv6", evidence=evidence,
                      message_nl="AAAA-record gepubliceerd en de dienst antwoordt via IPv6")
    if sec.get("ipv6_reachable") is False:
        bad = [f"{r['address']}: {r.get('detail')}" for r in reach if r["reachable"] is False]
        return failed(f"AAAA record published but the service does not answer over IPv6 ({bad[0] if bad else ''})",
                      evidence=evidence | {"unreachable": bad}, severity="medium",
                      message_nl=f"AAAA-record gepubliceerd, maar de dienst antwoordt niet via IPv6 ({bad[0] if bad else ''})")
    raise NotMeasured(next((r.get("detail") for r in reach if r.get("detail")), "IPv6 reachability not measured"))


@check(
    "dns.ipv6.mx",
    pillar="dns", level="recommended", severity="low", subject="mail_domain",
    title={"en": "The mail servers are reachable over IPv6", "nl": "De mailservers zijn bereikbaar via IPv6"},
    remediation={
        "en": "Give every MX host an AAAA record and accept SMTP on port 25 over IPv6.",
        "nl": "Geef elke MX-host een AAAA-record en aanvaard SMTP op poort 25 via IPv6.",
    },
    references=(INTERNET_NL, "RFC 3974"),
)
def ipv6_mx(ctx: CheckContext):
    hosts = _zone(ctx).get("mx_hosts")
    if hosts is None:
        raise NotMeasured("the MX hosts were not looked at")
    hosts = [h for h in hosts if h.get("rcode") != "NXDOMAIN"]
    if not hosts:
        return not_applicable("the domain has no mail servers (null MX or no MX)",
                              message_nl="het domein heeft geen mailservers (null MX of geen MX)")
    unread = [h for h in hosts if h.get("ipv6") is None and h.get("ipv6_error")]
    missing = [h["host"] for h in hosts if not h.get("ipv6") and h not in unread]
    down = [h["host"] for h in hosts if h.get("ipv6_reachable") is False]
    unknown = [h["host"] for h in hosts if h.get("ipv6") and h.get("ipv6_reachable") is None]
    if down:
        return failed(f"no SMTP answer over IPv6 at {', '.join(down)}", evidence={"unreachable": down},
                      severity="medium", message_nl=f"geen SMTP-antwoord via IPv6 van {', '.join(down)}")
    if missing:
        return warned(f"no AAAA record for {', '.join(missing)}", evidence={"without_ipv6": missing},
                      message_nl=f"geen AAAA-record voor {', '.join(missing)}")
    if unread:
        raise NotMeasured("; ".join(h["ipv6_error"] for h in unread))
    if unknown:
        detail = next((r.get("detail") for h in hosts for r in h.get("ipv6_reach") or [] if r.get("detail")), "")
        raise NotMeasured(f"IPv6 reachability of {', '.join(unknown)} not measured: {detail}")
    return passed("every MX host answers over IPv6", evidence={"hosts": [h["host"] for h in hosts]},
                  message_nl="elke MX-host antwoordt via IPv6")


# ------------------------------------------------------------------------------------ CAA

def caa_problems(records: list[Mapping[str, Any]]) -> list[str]:
    """Syntax problems of CAA records (RFC 8659 §4): what makes CAs refuse or ignore them."""
    problems = []
    for rec in records:
        tag, value = rec["tag"].lower(), rec["value"]
        shown = f'{rec["flags"]} {rec["tag"]} "{value}"'
        if not caa_grammar.valid_tag(rec["tag"]):
            problems.append(f"{shown}: the tag is not 1-15 letters and digits")
        elif caa_grammar.restricts_issuance(tag) and not caa_grammar.valid_issuer_value(value):
            problems.append(f"{shown}: not an issuer domain name with optional key=value parameters")
        elif tag == "iodef" and not caa_grammar.valid_iodef(value):
            problems.append(f"{shown}: the report address must be a mailto:, http: or https: URL")
        elif not caa_grammar.known_tag(tag) and rec["flags"] & caa_grammar.ISSUER_CRITICAL:
            problems.append(f"{shown}: an unknown property marked critical, so no CA may issue")
    return problems


@check(
    "dns.caa",
    pillar="dns", level="recommended", severity="low",
    title={"en": "CAA restricts which CAs may issue", "nl": "CAA beperkt welke CA's certificaten mogen uitgeven"},
    remediation={
        "en": "Publish well-formed CAA records naming the CAs you use (RFC 8659), e.g. "
              '0 issue "ca.example" and 0 iodef "mailto:security@example.be".',
        "nl": "Publiceer correcte CAA-records met de CA's die u gebruikt (RFC 8659), bijvoorbeeld "
              '0 issue "ca.example" en 0 iodef "mailto:security@example.be".',
    },
    references=("RFC 8659", CABF + " §3.2.2.8"),
)
def caa(ctx: CheckContext):
    sec = ctx.section("dns")
    records = sec.get("caa")
    if records is None:
        raise NotMeasured(sec.get("caa_error") or "CAA lookup failed")
    if not records:
        return warned("no CAA records in the tree above this name",
                      message_nl="geen CAA-records voor deze naam of de domeinen erboven")
    parsed = sec.get("caa_records") or []
    evidence = {"caa": records, "owner": sec.get("caa_owner")}
    problems = caa_problems(parsed)
    if problems:
        return failed(f"malformed CAA at {sec.get('caa_owner')}: {problems[0]}",
                      evidence=evidence | {"problems": problems}, severity="medium",
                      message_nl=f"foutieve CAA-records bij {sec.get('caa_owner')}: {problems[0]}")
    if parsed and not any(caa_grammar.restricts_issuance(r["tag"]) for r in parsed):
        return warned("CAA records exist but none restricts issuance", evidence=evidence,
                      message_nl="er zijn CAA-records, maar geen enkele beperkt de uitgifte")
    return passed(f"CAA at {sec.get('caa_owner')}", evidence=evidence,
                  message_nl=f"CAA-records bij {sec.get('caa_owner')}")
