"""Mail-domain probe: MX (and null MX), SPF, DMARC (RFC 9989), MTA-STS, TLS-RPT, DKIM keys of
the selectors the inventory names, and each MX's STARTTLS with its DANE records matched.

A domain that sends no mail is probed the same way: it should say so (null MX, SPF
`-all`, DMARC `p=reject`), and the checks judge it on that. The probe collects records and
answers as served; reading them is the standards' job (`scanner/standards/`), judging them
the checks'.
"""

from __future__ import annotations

import asyncio
from typing import Any

from scanner.probes.certificate.dane import tlsa_rows
from scanner.probes.certificate.probe import probe_certificate
from scanner.probes.context import ProbeContext
from scanner.probes.dns.probe import MAX_MX, dnssec_of, listed, mx_hosts, probe_domain_dns
from scanner.probes.http.probe import fetch_url, shown_url
from scanner.probes.mail.smtp import probe_starttls
from scanner.probes.net import ProbeError
from scanner.probes.plugin import Probe, Target
from scanner.probes.resolver import Lookup
from scanner.probes.tls.probe import PROTOCOLS
from scanner.standards import dkim as dkim_std
from scanner.standards import dmarc as dmarc_std
from scanner.standards import mta_sts as sts_std
from scanner.standards import spf as spf_std
from scanner.standards.tls_rpt import looks_like_tlsrpt

MAX_TXT = 10  # TXT strings kept per name (a zone may publish many; the ones that matter are few)
MAX_TEXT = 4096  # characters kept of one TXT record
MAX_SPF_QUERIES = 40  # answers one SPF evaluation may collect (10 terms, each with its target's TXT)
MAX_REPORT_URIS = 10  # DMARC report URIs whose authorisation is looked up
MAX_SELECTORS = 10  # DKIM selectors looked up per domain
MAX_TLSA = 20  # TLSA records of one MX listed in facts


def _txt_strings(lookup: Lookup) -> list[str]:
    """The TXT records of an answer, each one's character-strings joined (RFC 7208 §3.3)."""
    if lookup.rrset is None:
        return []
    return sorted(b"".join(rd.strings).decode("utf-8", "replace")[:MAX_TEXT] for rd in lookup.rrset)


def _spf_answer(lookup: Lookup, rdtype: str, name: str) -> dict[str, Any]:
    """One DNS answer an SPF evaluation asked for: how many records, and the SPF texts (TXT)."""
    out: dict[str, Any] = {"type": rdtype, "name": name, "rcode": lookup.rcode}
    if lookup.failed:
        out["error"] = lookup.failure()
        return out
    out["count"] = len(lookup.rrset) if lookup.rrset is not None else 0
    if rdtype == "TXT":
        out["records"] = [t for t in _txt_strings(lookup) if t[:6].lower() == "v=spf1"][:MAX_TXT]
    return out


async def _ask(ctx: ProbeContext, rdtype: str, name: str) -> dict[str, Any]:
    return _spf_answer(await ctx.resolver.lookup(name, rdtype), rdtype, name)


async def spf(ctx: ProbeContext, domain: str) -> dict[str, Any]:
    """The domain's SPF record and every DNS answer check_host() would ask for (`dns`).

    The walk itself is the standard's (`scanner/standards/spf.py`): it names the answers it
    is missing, we fetch them, and it walks again, until it has what it needs or the query
    budget is spent (`truncated`). A failed first lookup is an error, never "no SPF".
    """
    lookup = await ctx.resolver.lookup(domain, "TXT")
    if lookup.failed:
        return {"record": None, "records": None, "all": None, "lookups": None, "void_lookups": None,
                "error": lookup.failed_because()}
    top = _spf_answer(lookup, "TXT", domain)
    found = [r for r in top["records"] if spf_std.is_spf_record(r)]
    out: dict[str, Any] = {"record": found[0] if len(found) == 1 else None, "records": len(found),
                           "all": None, "lookups": None, "void_lookups": None}
    if len(found) != 1:
        return out
    out["strings"] = next(([s.decode("utf-8", "replace") for s in rd.strings][:MAX_TXT] for rd in lookup.rrset
                           if b"".join(rd.strings).decode("utf-8", "replace")[:MAX_TEXT] == found[0]), [])
    answers = [top]
    walk = spf_std.evaluate(domain, answers)
    while walk.missing and len(answers) < MAX_SPF_QUERIES:
        wanted = walk.missing[:MAX_SPF_QUERIES - len(answers)]
        answers += await asyncio.gather(*(_ask(ctx, rdtype, name) for rdtype, name in wanted))
        walk = spf_std.evaluate(domain, answers)
    out.update({"all": walk.policy, "lookups": walk.lookups, "void_lookups": walk.void, "dns": answers})
    if walk.missing:
        out["truncated"] = True
    return out


def dmarc_candidates(domain: str) -> list[str]:
    """RFC 9989 §4.10: the domain, then its ancestors down to one label, at most 8 queries."""
    labels = domain.rstrip(".").lower().split(".")
    names = [".".join(labels)]
    if len(labels) > dmarc_std.MAX_QUERIES:
        labels = labels[-(dmarc_std.MAX_QUERIES - 1):]
        names.append(".".join(labels))
    for i in range(1, len(labels)):
        names.append(".".join(labels[i:]))
    out: list[str] = []
    for name in names:
        if name not in out:
            out.append(name)
    return out[:dmarc_std.MAX_QUERIES]


async def dmarc(ctx: ProbeContext, domain: str) -> dict[str, Any]:
    """The DMARC record that applies to the domain (RFC 9989 tree walk) and, for report
    destinations outside its organisation, their authorisation records (RFC 9990)."""
    for n, name in enumerate(dmarc_candidates(domain)):
        lookup = await ctx.resolver.lookup(f"_dmarc.{name}", "TXT")
        if lookup.failed:  # the walk cannot tell "no policy here" from "could not ask"
            return {"record": None, "records": None, "found_at": None, "p": None, "error": lookup.failed_because()}
        records = [t for t in _txt_strings(lookup) if dmarc_std.is_dmarc_record(t)]
        if len(records) > 1 and n == 0:
            return {"record": None, "records": len(records), "found_at": name, "p": None}
        if len(records) == 1:
            parsed = dmarc_std.parse(records[0])
            return {"record": records[0][:1024], "records": 1, "found_at": name, "inherited": n > 0,
                    "p": parsed.values.get("p"), "external": await _report_authorisations(ctx, name, parsed)}
    return {"record": None, "records": 0, "found_at": None, "p": None}


async def _report_authorisations(ctx: ProbeContext, policy_domain: str, record: dmarc_std.Record) -> list[dict[str, Any]]:
    """RFC 9990: the `<policy domain>._report._dmarc.<host>` TXT records of external destinations."""
    wanted = []
    for tag, uris in (("rua", record.rua), ("ruf", record.ruf)):
        for uri in uris:
            host = dmarc_std.external_host(policy_domain, uri)
            if host is not None:
                wanted.append({"tag": tag, "uri": uri[:200], "host": host,
                               "name": dmarc_std.authorisation_name(policy_domain, host)})
    wanted = wanted[:MAX_REPORT_URIS]

    async def ask(entry: dict[str, Any]) -> dict[str, Any]:
        if entry["name"] is None:
            return entry
        lookup = await ctx.resolver.lookup(entry["name"], "TXT")
        if lookup.failed:
            return entry | {"error": lookup.failure()}
        return entry | {"rcode": lookup.rcode, "records": _txt_strings(lookup)[:MAX_TXT]}

    return list(await asyncio.gather(*(ask(e) for e in wanted)))


async def mta_sts(ctx: ProbeContext, domain: str) -> dict[str, Any]:
    """RFC 8461: the _mta-sts TXT strings, and when one looks like a record, the policy file
    as served (status, media type, body up to the size senders accept) and its host's certificate."""
    lookup = await ctx.resolver.lookup(f"_mta-sts.{domain}", "TXT")
    if lookup.failed:
        return {"record": None, "mode": None, "error": lookup.failed_because()}
    texts = [t for t in _txt_strings(lookup) if sts_std.looks_like_sts(t)][:MAX_TXT]
    strict = [t for t in texts if sts_std.is_sts_record(t)]
    out: dict[str, Any] = {"record": strict[0] if len(strict) == 1 else None, "records": texts, "mode": None}
    if not texts:
        return out
    host = f"mta-sts.{domain}"
    try:  # one byte over the cap tells a policy of exactly 64 KiB from a larger one
        fetched = await fetch_url(ctx, f"https://{host}{sts_std.POLICY_PATH}", sts_std.POLICY_SIZE_LIMIT + 1)
    except ProbeError as exc:
        out["policy_error"] = str(exc)
        return out
    headers = {name.lower(): value for name, value in fetched.headers}
    out.update({"policy_status": fetched.status, "content_type": headers.get("content-type", "")[:200],
                "policy_truncated": fetched.truncated})
    if 300 <= fetched.status < 400:
        out["policy_location"] = shown_url(headers.get("location", ""))[:300]
    if fetched.status == 200 and not fetched.truncated:
        out["policy"] = fetched.body.decode("utf-8", "replace")
        out["mode"] = sts_std.parse_policy(out["policy"]).mode
    cert = await probe_certificate(ctx, host, [fetched.ip], 443)
    out["certificate"] = {k: cert.get(k) for k in ("trusted", "hostname_match", "trust_error", "error") if k in cert}
    return out


async def tls_rpt(ctx: ProbeContext, domain: str) -> dict[str, Any]:
    """RFC 8460: the _smtp._tls TXT strings that look like a TLS-RPT record."""
    lookup = await ctx.resolver.lookup(f"_smtp._tls.{domain}", "TXT")
    if lookup.failed:
        return {"tls_rpt_error": lookup.failed_because()}
    texts = [t for t in _txt_strings(lookup) if looks_like_tlsrpt(t)][:MAX_TXT]
    return {"tls_rpt": texts[0] if texts else None, "tls_rpt_records": texts}


async def dkim(ctx: ProbeContext, domain: str, selectors: tuple[str, ...]) -> dict[str, Any]:
    """The key records of the DKIM selectors the inventory names (none named: nothing to ask,
    and nothing can be concluded: a selector is not discoverable)."""

    async def key(selector: str) -> dict[str, Any]:
        name = dkim_std.key_name(selector, domain)
        lookup = await ctx.resolver.lookup(name, "TXT")
        out: dict[str, Any] = {"selector": selector, "name": name, "rcode": lookup.rcode}
        if lookup.failed:
            out["error"] = lookup.failure()
        else:
            out["records"] = _txt_strings(lookup)[:MAX_TXT]
        return out

    return {"selectors": list(selectors[:MAX_SELECTORS]),
            "keys": list(await asyncio.gather(*(key(s) for s in selectors[:MAX_SELECTORS])))}


async def probe_mail(ctx: ProbeContext, domain: str, dkim_selectors: tuple[str, ...] = ()) -> dict[str, Any]:
    """Facts for one mail domain: {"dns": {...}, "mail": {...}}."""
    try:
        mx_lookup = await ctx.resolver.lookup(domain, "MX")
        mx_records = [] if mx_lookup.failed else mx_hosts(mx_lookup)
        null_mx = None if mx_lookup.failed else len(mx_records) == 1 and mx_records[0][1] == ""
        spf_facts, dmarc_facts, tlsrpt_facts, dkim_facts = await asyncio.gather(
            spf(ctx, domain), dmarc(ctx, domain), tls_rpt(ctx, domain), dkim(ctx, domain, dkim_selectors))
        dns_facts: dict[str, Any] = {"rcode": mx_lookup.rcode}
        dns_facts.update(await probe_domain_dns(ctx, domain, mx_lookup))
        mail: dict[str, Any] = {
            "domain_exists": mx_lookup.rcode != "NXDOMAIN",
            "null_mx": null_mx,
            "spf": spf_facts,
            "dmarc": dmarc_facts,
            **tlsrpt_facts,
            "dkim": dkim_facts,
            "mx": [],
        }
        if mx_lookup.failed:  # whether the domain takes mail is unknown, not "no"
            mail["mx_error"] = mx_lookup.failed_because()
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
    addresses, refused = await ctx.addresses(host, 25, "smtp")
    out["addresses"] = addresses
    if refused:
        out["refused_addresses"] = refused
    name = f"_25._tcp.{host}"
    tlsa = await ctx.resolver.lookup(name, "TLSA")
    out["tlsa"] = None if tlsa.failed else bool(tlsa.rrset)  # a failed lookup is not "no TLSA"
    tlsa_set = None
    if tlsa.rrset:
        out.update(listed("tlsa_records", tlsa.texts(), MAX_TLSA))
        out["tlsa_dnssec"] = (await dnssec_of(ctx, tlsa))["dnssec"]
        tlsa_set = {"name": name, "records": tlsa_rows(tlsa), "dnssec": out["tlsa_dnssec"]}
    if not addresses:
        out["error"] = f"{host} has no address the scan may contact ({refused[0]['reason']})" if refused else \
            f"{host} has no address"
        out["starttls"] = None
        return out
    out.update(await ctx.cached(("smtp", addresses[0], host),
                                lambda: probe_starttls(ctx, host, addresses[0], tlsa=tlsa_set)))
    out["address"] = addresses[0]
    enumerated = out.get("tls") or {}
    if enumerated and "error" not in enumerated:
        out["protocols"] = enumerated["protocols"]
    else:  # only the negotiated version is known
        out["protocols"] = {p: (True if p == out.get("protocol") else None) for p in PROTOCOLS}
    return out


async def collect(ctx: ProbeContext, target: Target) -> dict[str, dict[str, Any]]:
    return await probe_mail(ctx, target.name, target.dkim_selectors)


# The domain's own DNS (its zone, delegation, DNSSEC) comes with the mail facts: both start
# from the one MX lookup. MX hosts' STARTTLS enumerations take their time: twice the budget.
PROBE = Probe("mail", ("dns", "mail"), collect, label="mail probe", subject="mail_domain", budget=2.0)
