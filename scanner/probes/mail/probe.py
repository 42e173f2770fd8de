"""Mail-domain probe: MX (and null MX), SPF, DMARC (RFC 9989), MTA-STS, TLS-RPT, and each MX's STARTTLS.

A domain that sends no mail is probed the same way: it should say so (null MX, SPF
`-all`, DMARC `p=reject`), and the checks judge it on that.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from scanner.probes.context import ProbeContext
from scanner.probes.dns.probe import MAX_MX, dnssec_of, listed, mx_hosts, probe_domain_dns
from scanner.probes.http.probe import fetch_url
from scanner.probes.mail.smtp import probe_starttls
from scanner.probes.net import ProbeError
from scanner.probes.plugin import Probe, Target
from scanner.probes.tls.probe import PROTOCOLS
from scanner.standards.mail import DMARC_MAX_QUERIES, SPF_LOOKUP_LIMIT

MTA_STS_CAP = 64 * 1024
MAX_TLSA = 20  # TLSA records of one MX listed in facts


def _txt_strings(lookup) -> list[str]:
    if lookup.rrset is None:
        return []
    return [b"".join(rd.strings).decode("utf-8", "replace") for rd in lookup.rrset]


def parse_tags(record: str) -> dict[str, str]:
    tags: dict[str, str] = {}
    for part in record.split(";"):
        key, sep, value = part.partition("=")
        if sep and key.strip():
            tags.setdefault(key.strip().lower(), value.strip())
    return tags


async def spf_record(ctx: ProbeContext, domain: str) -> tuple[list[str], str]:
    """The SPF records of `domain` and the rcode; a failed lookup is a ProbeError, never "no SPF"."""
    lookup = await ctx.resolver.lookup(domain, "TXT")
    if lookup.failed:
        raise ProbeError(lookup.failed_because())
    records = [t for t in _txt_strings(lookup) if re.match(r"(?i)^v=spf1(\s|$)", t)]
    return records, lookup.rcode


def _all_term(terms: list[str]) -> str | None:
    """The record's `all` mechanism with its qualifier made explicit (`all` is `+all`)."""
    term = next((t for t in terms if t.lower().lstrip("+-~?") == "all"), None)
    return "+" + term if term and term[0] not in "+-~?" else term


async def spf(ctx: ProbeContext, domain: str) -> dict[str, Any]:
    try:
        records, _ = await spf_record(ctx, domain)
    except ProbeError as exc:
        return {"record": None, "records": None, "all": None, "lookups": None, "void_lookups": None,
                "error": str(exc)}
    out: dict[str, Any] = {"record": records[0] if len(records) == 1 else None, "records": len(records),
                           "all": None, "lookups": None, "void_lookups": None}
    if len(records) != 1:
        return out
    terms = records[0].split()[1:]
    out["all"] = _all_term(terms)
    redirect = next((t.split("=", 1)[1] for t in terms if t.lower().startswith("redirect=")), None)
    out["redirect"] = redirect
    if redirect and not out["all"]:
        # RFC 7208 §6.1: without `all`, the redirect target's policy is this domain's policy.
        try:
            target, _ = await spf_record(ctx, redirect.rstrip("."))
            out["redirect_all"] = _all_term(target[0].split()[1:]) if len(target) == 1 else None
        except ProbeError as exc:
            out["redirect_error"] = str(exc)
    counter = {"lookups": 0, "void": 0}
    try:
        await _count_lookups(ctx, records[0], counter, depth=0, seen={domain.lower()})
    except ProbeError as exc:
        out["lookup_error"] = str(exc)
    out["lookups"], out["void_lookups"] = counter["lookups"], counter["void"]
    return out


async def _count_lookups(ctx: ProbeContext, record: str, counter: dict[str, int], depth: int, seen: set[str]) -> None:
    """Count the DNS-querying terms an evaluator would spend (RFC 7208 §4.6.4), recursively."""
    for term in record.split()[1:]:
        mech = term.lstrip("+-~?").lower()
        name = mech.split(":", 1)[0].split("=", 1)[0].split("/", 1)[0]
        if name in ("a", "mx", "ptr", "exists"):
            counter["lookups"] += 1
        elif name in ("include", "redirect"):
            counter["lookups"] += 1
            _, _, target = mech.partition(":" if name == "include" else "=")  # a bare term has none
            target = target.rstrip(".")
            if not target or "%" in target or target in seen or depth >= 10 or counter["lookups"] > SPF_LOOKUP_LIMIT:
                continue
            seen.add(target)
            records, rcode = await spf_record(ctx, target)  # a failed lookup stops the count: lookup_error
            if not records:
                counter["void"] += 1 if rcode in ("NXDOMAIN", "NOERROR") else 0
                continue
            await _count_lookups(ctx, records[0], counter, depth + 1, seen)


def dmarc_candidates(domain: str) -> list[str]:
    """RFC 9989 tree walk: the domain, then its ancestors down to one label, at most 8 queries."""
    labels = domain.rstrip(".").lower().split(".")
    names = [".".join(labels)]
    if len(labels) > DMARC_MAX_QUERIES:
        labels = labels[-(DMARC_MAX_QUERIES - 1):]
        names.append(".".join(labels))
    for i in range(1, len(labels)):
        names.append(".".join(labels[i:]))
    out: list[str] = []
    for name in names:
        if name not in out:
            out.append(name)
    return out[:DMARC_MAX_QUERIES]


async def dmarc(ctx: ProbeContext, domain: str) -> dict[str, Any]:
    for n, name in enumerate(dmarc_candidates(domain)):
        try:
            lookup = await ctx.resolver.lookup(f"_dmarc.{name}", "TXT")
        except ProbeError as exc:
            return {"record": None, "records": None, "found_at": None, "p": None, "error": str(exc)}
        if lookup.failed:  # the walk cannot tell "no policy here" from "could not ask"
            return {"record": None, "records": None, "found_at": None, "p": None, "error": lookup.failed_because()}
        records = [t for t in _txt_strings(lookup) if re.match(r"(?i)^v\s*=\s*DMARC1\s*(;|$)", t)]
        if len(records) > 1 and n == 0:
            return {"record": None, "records": len(records), "found_at": name, "p": None}
        if len(records) == 1:
            tags = parse_tags(records[0])
            return {"record": records[0][:1024], "records": 1, "found_at": name, "inherited": n > 0,
                    "p": tags.get("p"), "sp": tags.get("sp"), "np": tags.get("np"), "psd": tags.get("psd"),
                    "t": tags.get("t"), "rua": tags.get("rua"), "ruf": tags.get("ruf"),
                    "adkim": tags.get("adkim"), "aspf": tags.get("aspf"), "tags": tags}
    return {"record": None, "records": 0, "found_at": None, "p": None}


async def mta_sts(ctx: ProbeContext, domain: str) -> dict[str, Any]:
    lookup = await ctx.resolver.lookup(f"_mta-sts.{domain}", "TXT")
    records = [t for t in _txt_strings(lookup) if t.lower().startswith("v=stsv1")]
    out: dict[str, Any] = {"record": records[0] if records else None, "mode": None, "policy": None}
    if not records:
        return out
    try:
        fetched = await fetch_url(ctx, f"https://mta-sts.{domain}/.well-known/mta-sts.txt", MTA_STS_CAP)
    except ProbeError as exc:
        out["policy_error"] = str(exc)
        return out
    out["policy_status"] = fetched.status
    if fetched.truncated:  # read up to the cap and judged on that part; the rest was never read
        out.update(policy_truncated=True, policy_bytes=len(fetched.body))
    if fetched.status == 200:
        fields: dict[str, Any] = {"mx": []}
        for line in fetched.body.decode("utf-8", "replace").splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip().lower(), value.strip()
            if key == "mx":
                fields["mx"].append(value)
            elif key:
                fields[key] = value
        out["policy"] = fields
        out["mode"] = fields.get("mode")
    return out


async def probe_mail(ctx: ProbeContext, domain: str) -> dict[str, Any]:
    """Facts for one mail domain: {"dns": {...}, "mail": {...}}."""
    try:
        mx_lookup = await ctx.resolver.lookup(domain, "MX")
        mx_records = [] if mx_lookup.failed else mx_hosts(mx_lookup)
        null_mx = None if mx_lookup.failed else len(mx_records) == 1 and mx_records[0][1] == ""
        spf_facts, dmarc_facts, tlsrpt = await asyncio.gather(
            spf(ctx, domain), dmarc(ctx, domain), ctx.resolver.lookup(f"_smtp._tls.{domain}", "TXT"))
        dns_facts: dict[str, Any] = {"rcode": mx_lookup.rcode}
        dns_facts.update(await probe_domain_dns(ctx, domain, mx_lookup))
        mail: dict[str, Any] = {
            "domain_exists": mx_lookup.rcode != "NXDOMAIN",
            "null_mx": null_mx,
            "spf": spf_facts,
            "dmarc": dmarc_facts,
            "tls_rpt": next((t for t in _txt_strings(tlsrpt) if t.lower().startswith("v=tlsrptv1")), None),
            "mx": [],
        }
        if mx_lookup.failed:  # whether the domain takes mail is unknown, not "no"
            mail["mx_error"] = mx_lookup.failed_because()
        if tlsrpt.failed:
            del mail["tls_rpt"]
            mail["tls_rpt_error"] = tlsrpt.failed_because()
        mail["mta_sts"] = await mta_sts(ctx, domain)
        if not null_mx:
            mail["mx"] = await asyncio.gather(*(_mx(ctx, pref, host) for pref, host in mx_records[:MAX_MX]))
            mail["mx_total"] = len(mx_records)
    except ProbeError as exc:
        return {"dns": {"error": str(exc)}, "mail": {"error": str(exc)}}
    return {"dns": dns_facts, "mail": mail}


async def _mx(ctx: ProbeContext, preference: int, host: str) -> dict[str, Any]:
    """Facts of one MX host; a lookup that fails is this host's `error`, not the domain's."""
    out: dict[str, Any] = {"host": host, "preference": preference}
    try:
        return await _mx_facts(ctx, host, out)
    except ProbeError as exc:
        out.setdefault("starttls", None)
        out["error"] = str(exc)
        return out


async def _mx_facts(ctx: ProbeContext, host: str, out: dict[str, Any]) -> dict[str, Any]:
    if ctx.network.scope is not None:
        ctx.network.scope.add(host)  # a mail domain's MX hosts are implied by the inventory
    addresses = await ctx.resolver.addresses(host)
    out["addresses"] = addresses
    tlsa = await ctx.resolver.lookup(f"_25._tcp.{host}", "TLSA")
    out["tlsa"] = None if tlsa.failed else bool(tlsa.rrset)  # a failed lookup is not "no TLSA"
    if tlsa.rrset:
        out.update(listed("tlsa_records", tlsa.texts(), MAX_TLSA))
        out["tlsa_dnssec"] = (await dnssec_of(ctx, tlsa))["dnssec"]
    if not addresses:
        out["error"] = f"{host} has no address"
        out["starttls"] = None
        return out
    out.update(await ctx.cached(("smtp", addresses[0], host), lambda: probe_starttls(ctx, host, addresses[0])))
    out["address"] = addresses[0]
    enumerated = out.get("tls") or {}
    if enumerated and "error" not in enumerated:
        out["protocols"] = enumerated["protocols"]
    else:  # only the negotiated version is known
        out["protocols"] = {p: (True if p == out.get("protocol") else None) for p in PROTOCOLS}
    return out


async def collect(ctx: ProbeContext, target: Target) -> dict[str, dict[str, Any]]:
    return await probe_mail(ctx, target.name)


# The domain's own DNS (its zone, delegation, DNSSEC) comes with the mail facts: both start
# from the one MX lookup. MX hosts' STARTTLS enumerations take their time: twice the budget.
PROBE = Probe("mail", ("dns", "mail"), collect, label="mail probe", subject="mail_domain", budget=2.0)
