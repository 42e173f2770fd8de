"""DNS pillar: DNSSEC, delegation health, IPv6, CAA and takeover risks.

Two subjects. On an endpoint: what its host name resolves to (DNSSEC of the answer,
IPv6, CAA, a dangling alias). On a domain (every registrable domain of a service and
every declared mail domain): the zone it lives in (DNSSEC hygiene, the delegation and
its name servers, dangling NS and MX records, the mail hosts' IPv6). A zone shared by
many hosts is judged once per domain, where its owner fixes it.

Standards tables are data, read through `scanner/standards/`: DNSSEC algorithms (RFC 8624,
RFC 9905) and NSEC3 limits (RFC 9276) in `standards.dnssec`, deprovisionable services in `takeover`,
the CAA grammar (RFC 8659, RFC 8657) in `caa`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from checks.catalogue import Phrase, rendered
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
from scanner.times import parse_rfc3339


def _zone(ctx: CheckContext) -> Mapping[str, Any]:
    """The domain's DNS facts, insisting the zone part was collected."""
    sec = ctx.section("dns")
    if sec.get("zone_error"):
        raise NotMeasured.because(sec["zone_error"])
    return sec


# ------------------------------------------------------------------------------------ DNSSEC


def _dnssec(ctx: CheckContext, what: Phrase):
    sec = ctx.section("dns")
    status, reason = sec.get("dnssec"), sec.get("dnssec_reason")
    if status is None:
        raise NotMeasured.because(reason, "dnssec_unknown")
    evidence = {"reason": reason} if reason else {}
    if sec.get("dnssec_source", "bolwerk") != "bolwerk":
        evidence["source"] = sec["dnssec_source"]
    if status == "bogus":
        return failed("dnssec_bogus", reason=reason, evidence=evidence, severity="critical")
    if status == "insecure":
        return failed("dnssec_insecure", what=what, reason=reason, evidence=evidence)
    if evidence.get("source"):
        return passed("dnssec_by_resolver", what=what, reason=reason, evidence=evidence)
    return passed("dnssec_secure", what=what, evidence=evidence)


@check(
    "dns.dnssec",
    pillar="dns", level="required", severity="high",
)
def dnssec(ctx: CheckContext):
    return _dnssec(ctx, Phrase("the_host_name"))


@check(
    "dns.dnssec.domain",
    pillar="dns", level="required", severity="high", subject="mail_domain",
)
def dnssec_domain(ctx: CheckContext):
    outcome = _dnssec(ctx, Phrase("the_domain"))
    proof = (ctx.section("dns").get("dnssec_zone") or {}).get("denial_proof") or {}
    if outcome.status == "pass" and proof.get("status") == "bogus":
        return failed("denial_bogus", reason=proof.get("reason"),
                      evidence={"name": proof.get("name"), "reason": proof.get("reason")}, severity="critical")
    return outcome


def _signed_zone(ctx: CheckContext) -> Mapping[str, Any] | None:
    zone = _zone(ctx).get("dnssec_zone")
    if zone is None:
        raise NotMeasured("zone_facts_missing")
    if not zone.get("signed") and zone.get("error"):  # a failed DNSKEY lookup is no proof of an unsigned zone
        raise NotMeasured.because(zone["error"])
    return zone if zone.get("signed") else None


@check(
    "dns.dnssec.expiry",
    pillar="dns", level="recommended", severity="high", subject="mail_domain",
    thresholds={"dnssec_expiry_warn_days": 7},
)
def dnssec_expiry(ctx: CheckContext):
    zone = _signed_zone(ctx)
    if zone is None:
        return not_applicable("not_signed")
    sigs = zone.get("rrsig") or []
    if not sigs:
        raise NotMeasured("no_signatures")
    first = min(sigs, key=lambda s: s["expiration"])
    days = (parse_rfc3339(first["expiration"]) - ctx.now).total_seconds() / 86400
    evidence = {"rrset": first["rrset"], "expiration": first["expiration"], "days_left": round(days, 1)}
    if days < 0:
        return failed("expired", rrset=first["rrset"], expiration=first["expiration"], evidence=evidence,
                      severity="critical")
    if days < ctx.threshold("dnssec_expiry_warn_days"):
        return warned("expires_soon", rrset=first["rrset"], days=days, expiration=first["expiration"],
                      evidence=evidence)
    return passed("valid", days=days, evidence=evidence)


@check(
    "dns.dnssec.algorithm",
    pillar="dns", level="recommended", severity="medium", subject="mail_domain",
    thresholds={"dnssec_rsa_min_bits": 2048},
)
def dnssec_algorithm(ctx: CheckContext):
    zone = _signed_zone(ctx)
    if zone is None:
        return not_applicable("not_signed")
    bad: list[Phrase] = []
    weak: list[Phrase] = []

    def rate(entry: Mapping[str, Any] | None, label: Phrase, unknown: str) -> None:
        if entry is None:
            weak.append(Phrase("unrated", label=label, what=Phrase(unknown)))
        elif entry["sign"] == "MUST NOT":
            bad.append(Phrase("rated", label=label, note=entry["note"]))
        elif entry["sign"] == "NOT RECOMMENDED":
            weak.append(Phrase("rated", label=label, note=entry["note"]))

    for key in zone.get("dnskey") or []:
        entry = dnssec_tables.algorithm(key["algorithm"])
        label = Phrase("dnskey", tag=key["key_tag"], algorithm=entry["name"] if entry else key["algorithm"])
        rate(entry, label, "an_algorithm")
        if entry and entry.get("rsa") and key.get("key_bits") and key["key_bits"] < ctx.threshold("dnssec_rsa_min_bits"):
            weak.append(Phrase("rsa_too_small", label=label, bits=key["key_bits"]))
    for ds in zone.get("ds") or []:
        entry = dnssec_tables.digest(ds["digest_type"])
        rate(entry, Phrase("ds", tag=ds["key_tag"], digest=entry["name"] if entry else ds["digest_type"]),
             "a_digest_type")
    if bad:
        return failed("forbidden", problems=bad, evidence={"problems": rendered(bad + weak, "dns.dnssec.algorithm")})
    if weak:
        return warned("discouraged", problems=weak, evidence={"problems": rendered(weak, "dns.dnssec.algorithm")})
    names = sorted({k["algorithm_name"] for k in zone.get("dnskey") or []})
    return passed("current", algorithms=names or Phrase("current_algorithms"),
                  evidence={"algorithms": names, "digests": sorted({d["digest_name"] for d in zone.get("ds") or []})})


@check(
    "dns.dnssec.nsec3",
    pillar="dns", level="recommended", severity="low", subject="mail_domain",
)
def dnssec_nsec3(ctx: CheckContext):
    zone = _signed_zone(ctx)
    if zone is None:
        return not_applicable("not_signed")
    params, denial = zone.get("nsec3"), zone.get("denial")
    if denial is None:
        raise NotMeasured("no_denial")
    if denial != "nsec3" or not params:
        return not_applicable("uses", denial=denial.upper())
    limits = dnssec_tables.nsec3_limits()
    evidence = dict(params)
    if params["iterations"] > limits["validator"]["insecure_above_iterations"]:
        return failed("iterations_ignored", iterations=params["iterations"],
                      limit=limits["validator"]["insecure_above_iterations"], evidence=evidence, severity="medium")
    problems = []
    if params["iterations"] > limits["signer"]["max_iterations"]:
        problems.append(Phrase("iterations", iterations=params["iterations"]))
    if params.get("salt") and not limits["signer"]["salt"]:
        problems.append(Phrase("salt", salt=params["salt"]))
    if len(problems) == 2:
        return warned("two_problems", problem=problems[0], other=problems[1], evidence=evidence)
    if problems:
        return warned("one_problem", problem=problems[0], evidence=evidence)
    return passed("recommended", evidence=evidence)


# ------------------------------------------------------------------------------------ delegation


def _delegation(ctx: CheckContext) -> Mapping[str, Any]:
    deleg = _zone(ctx).get("delegation")
    if deleg is None:
        raise NotMeasured("delegation_missing")
    if not deleg.get("servers"):
        raise NotMeasured.because(deleg.get("error"), "no_name_servers")
    return deleg


@check(
    "dns.ns.count",
    pillar="dns", level="recommended", severity="medium", subject="mail_domain",
)
def ns_count(ctx: CheckContext):
    names = [s["name"] for s in _delegation(ctx)["servers"]]
    if len(names) >= 2:
        return passed("several", count=len(names), evidence={"name_servers": names})
    return failed("only_one", name=names[0], evidence={"name_servers": names})


def _network(address: str, v4: int, v6: int) -> str:
    addr = ipaddress.ip_address(address.split("%", 1)[0])
    return str(ipaddress.ip_network(f"{addr}/{v4 if addr.version == 4 else v6}", strict=False))


@check(
    "dns.ns.networks",
    pillar="dns", level="recommended", severity="low", subject="mail_domain",
    thresholds={"ns_ipv4_prefix": 24, "ns_ipv6_prefix": 48},
)
def ns_networks(ctx: CheckContext):
    v4, v6 = ctx.threshold("ns_ipv4_prefix"), ctx.threshold("ns_ipv6_prefix")
    addresses = sorted({a for s in _delegation(ctx)["servers"] for a in s.get("addresses") or []})
    if not addresses:
        raise NotMeasured("no_address")
    networks = sorted({_network(a, v4, v6) for a in addresses})
    rule = Phrase("rule", v4=v4, v6=v6)
    evidence = {"networks": networks, "rule": rendered(rule, "dns.ns.networks")}
    if len(networks) >= 2:
        return passed("several", count=len(networks), rule=rule, evidence=evidence)
    return failed("one", network=networks[0], rule=rule, evidence=evidence)


# answer statuses that say the scanner could not reach the address, not that the server failed
UNREACHABLE = ("no-route", "refused-by-scanner")


def _answers(deleg: Mapping[str, Any]):
    for server in deleg["servers"]:
        for answer in server.get("answers") or []:
            yield server, answer


def _where(name: str, address: str) -> str:
    """A name server address as the DNS messages and their evidence show it."""
    return f"{name} ({address})"


@check(
    "dns.ns.ipv6",
    pillar="dns", level="recommended", severity="low", subject="mail_domain",
)
def ns_ipv6(ctx: CheckContext):
    deleg = _delegation(ctx)
    v6 = [(s["name"], a) for s, a in _answers(deleg) if ":" in a["address"]]
    if not v6:
        return warned("no_address", evidence={"name_servers": [s["name"] for s in deleg["servers"]]})
    good = sorted({name for name, a in v6 if a.get("authoritative")})
    if good:
        return passed("answers", servers=good, evidence={"name_servers": good})
    if all(a["status"] in UNREACHABLE for _, a in v6):
        raise NotMeasured("unreachable", detail=v6[0][1].get("detail"))
    return failed("silent", addresses=sorted({_where(n, a["address"]) for n, a in v6}),
                  evidence={"addresses": [f"{n} {a['address']}: {a.get('detail')}" for n, a in v6]})


@check(
    "dns.ns.lame",
    pillar="dns", level="recommended", severity="medium", subject="mail_domain",
)
def ns_lame(ctx: CheckContext):
    deleg = _delegation(ctx)
    problems: list[Phrase | str] = []
    good, unmeasured = [], []
    for server in deleg["servers"]:
        if not server.get("addresses"):
            problems.append(Phrase("no_address", name=server["name"], rcode=server.get("rcode")))
    for server, answer in _answers(deleg):
        where = _where(server["name"], answer["address"])
        if answer["status"] in UNREACHABLE:
            unmeasured.append(f"{where}: {answer.get('detail')}")
        elif answer.get("authoritative"):
            good.append(where)
        else:
            problems.append(f"{where}: {answer.get('detail')}")
    if problems:
        return failed("lame", count=len(problems), first=problems[0],
                      evidence={"lame": rendered(problems, "dns.ns.lame"), "authoritative": good})
    if not good:
        raise NotMeasured("details", details=unmeasured) if unmeasured else NotMeasured("none_asked")
    return passed("authoritative", count=len(good), evidence={"authoritative": good, "not_measured": unmeasured})


@check(
    "dns.ns.consistency",
    pillar="dns", level="recommended", severity="low", subject="mail_domain",
)
def ns_consistency(ctx: CheckContext):
    deleg = _delegation(ctx)
    parent, child = deleg.get("parent_ns"), deleg.get("child_ns")
    if parent is None:
        return info("parent_unseen", note=deleg.get("parent_note"))
    if child is None:
        raise NotMeasured.because(deleg.get("child_error"), "zone_ns_unread")
    if set(parent) == set(child):
        return passed("same", evidence={"name_servers": child})
    return warned("different",
                  evidence={"only_at_parent": sorted(set(parent) - set(child)),
                            "only_in_zone": sorted(set(child) - set(parent))})


@check(
    "dns.ns.axfr",
    pillar="dns", level="recommended", severity="medium", subject="mail_domain",
)
def ns_axfr(ctx: CheckContext):
    deleg = _delegation(ctx)
    results = [(_where(s["name"], a["address"]), a.get("axfr")) for s, a in _answers(deleg)]
    open_ = [where for where, allowed in results if allowed]
    if open_:
        return failed("allowed", servers=open_, evidence={"open": open_})
    refused = [where for where, allowed in results if allowed is False]
    if not refused:
        raise NotMeasured("none_asked")
    return passed("refused", count=len(refused), evidence={"refused": refused})


# ------------------------------------------------------------------------------------ takeover




@check(
    "dns.dangling",
    pillar="dns", level="required", severity="high",
)
def dangling(ctx: CheckContext):
    sec = ctx.section("dns")
    rcode = ctx.fact("dns", "rcode")
    target = sec.get("cname_target")
    if not target:
        if rcode == "NXDOMAIN":
            return info("no_such_host")
        return passed("no_alias")
    name, provider = target["name"], takeover.provider(target["name"])
    evidence = {"chain": sec.get("cname"), "target": name, "rcode": target["rcode"]}
    if provider:
        evidence["service"] = provider["name"]
    if target["rcode"] == "NXDOMAIN":
        if provider and provider["claimable_when_nxdomain"]:
            return failed("claimable", name=name, service=provider["name"], evidence=evidence, severity="critical")
        if target.get("domain_exists") is False:
            return failed("unregistered", name=name, domain=target["domain"], evidence=evidence, severity="critical")
        return failed("dangling", name=name, evidence=evidence)
    if provider:
        return info("at_service", service=provider["name"], name=name, evidence=evidence)
    if not sec.get("ipv4") and not sec.get("ipv6"):
        return warned("no_address", name=name, evidence=evidence)
    return passed("resolves", name=name, evidence=evidence)


@check(
    "dns.addresses.special",
    pillar="dns", level="recommended", severity="medium",
)
def special_addresses(ctx: CheckContext):
    """A public name that points into private, loopback, link-local or cloud-metadata space
    (the scan refused those addresses: scanner/probes/net.py AddressPolicy)."""
    refused = ctx.answer("dns", "refused_addresses")
    if not refused:
        return passed("public")
    shown = [f"{r['ip']} ({r['network']})" for r in refused]
    evidence = {"refused": [{k: r.get(k) for k in ("ip", "kind", "network")} for r in refused]}
    if any(r["kind"] != "private" for r in refused):
        return failed("special", addresses=shown, evidence=evidence)
    return warned("private", addresses=shown, evidence=evidence)


@check(
    "dns.dangling.domain",
    pillar="dns", level="required", severity="high", subject="mail_domain",
)
def dangling_domain(ctx: CheckContext):
    sec = _zone(ctx)
    critical: list[Phrase] = []
    dangling_: list[Phrase] = []
    for server in _delegation(ctx)["servers"]:
        if server.get("rcode") == "NXDOMAIN" and not server.get("addresses"):
            dangling_.append(Phrase("no_such_target", type="NS", name=server["name"]))
        host = takeover.provider(server["name"], "dns_host")
        if host and any(a.get("rcode") == "REFUSED" for a in server.get("answers") or []):
            critical.append(Phrase("claimable", name=server["name"], host=host["name"]))
    if sec.get("mx_hosts") is None:
        raise NotMeasured("mx_hosts_missing")
    for mx in sec["mx_hosts"]:
        if mx.get("rcode") == "NXDOMAIN":
            dangling_.append(Phrase("no_such_target", type="MX", name=mx["host"]))
    if critical:
        return failed("claimable", **critical[0].params, severity="critical",
                      evidence={"problems": rendered(critical + dangling_, "dns.dangling.domain")})
    if dangling_:
        return failed("missing", problems=dangling_, evidence={"problems": rendered(dangling_, "dns.dangling.domain")})
    return passed("all_exist")


# ------------------------------------------------------------------------------------ IPv6


@check(
    "dns.ipv6",
    pillar="dns", level="recommended", severity="low",
)
def ipv6(ctx: CheckContext):
    sec = ctx.section("dns")
    if not ctx.fact("dns", "aaaa"):
        return warned("no_aaaa")
    reach = sec.get("ipv6_reach") or []
    evidence = {"ipv6": sec.get("ipv6", [])}
    if sec.get("ipv6_reachable") is True:
        return passed("reachable", evidence=evidence)
    if sec.get("ipv6_reachable") is False:
        bad = [f"{r['address']}: {r.get('detail')}" for r in reach if r["reachable"] is False]
        return failed("unreachable", first=bad[0] if bad else "", evidence=evidence | {"unreachable": bad},
                      severity="medium")
    raise NotMeasured.because(next((r.get("detail") for r in reach if r.get("detail")), None), "not_measured")


@check(
    "dns.ipv6.mx",
    pillar="dns", level="recommended", severity="low", subject="mail_domain",
)
def ipv6_mx(ctx: CheckContext):
    hosts = _zone(ctx).get("mx_hosts")
    if hosts is None:
        raise NotMeasured("mx_hosts_missing")
    hosts = [h for h in hosts if h.get("rcode") != "NXDOMAIN"]
    if not hosts:
        return not_applicable("no_mail")
    unread = [h for h in hosts if h.get("ipv6") is None and h.get("ipv6_error")]
    missing = [h["host"] for h in hosts if not h.get("ipv6") and h not in unread]
    down = [h["host"] for h in hosts if h.get("ipv6_reachable") is False]
    unknown = [h["host"] for h in hosts if h.get("ipv6") and h.get("ipv6_reachable") is None]
    if down:
        return failed("silent", hosts=down, evidence={"unreachable": down}, severity="medium")
    if missing:
        return warned("no_aaaa", hosts=missing, evidence={"without_ipv6": missing})
    if unread:
        raise NotMeasured("details", details=[h["ipv6_error"] for h in unread])
    if unknown:
        detail = next((r.get("detail") for h in hosts for r in h.get("ipv6_reach") or [] if r.get("detail")), "")
        raise NotMeasured("not_measured", hosts=unknown, detail=detail)
    return passed("all_answer", evidence={"hosts": [h["host"] for h in hosts]})


# ------------------------------------------------------------------------------------ CAA

def caa_problems(records: list[Mapping[str, Any]]) -> list[Phrase]:
    """Problems of CAA records (RFC 8659, RFC 8657): what makes CAs refuse, ignore or misread
    them, one phrase each (texts of the dns.caa check)."""
    problems = []
    for rec in records:
        shown = f'{rec["flags"]} {rec["tag"]} "{rec["value"]}"'
        for problem in caa_grammar.parse(rec["flags"], rec["tag"], rec["value"]).problems:
            problems.append(Phrase(problem.code, record=shown, column=problem.position + 1, detail=problem.detail))
    return problems


@check(
    "dns.caa",
    pillar="dns", level="recommended", severity="low",
)
def caa(ctx: CheckContext):
    sec = ctx.section("dns")
    records = sec.get("caa")
    if records is None:
        raise NotMeasured.because(sec.get("caa_error"), "lookup_failed")
    if not records:
        return warned("none")
    parsed = sec.get("caa_records") or []
    evidence = {"caa": records, "owner": sec.get("caa_owner")}
    problems = caa_problems(parsed)
    if problems:
        return failed("malformed", owner=sec.get("caa_owner"), problem=problems[0], severity="medium",
                      evidence=evidence | {"problems": rendered(problems, "dns.caa")})
    if parsed and not any(caa_grammar.restricts_issuance(r["tag"]) for r in parsed):
        return warned("no_issue", evidence=evidence)
    return passed("published", owner=sec.get("caa_owner"), evidence=evidence)
