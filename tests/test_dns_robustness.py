"""Name servers and resolvers that misbehave: each becomes an error (or a lame finding), never a hang.

The lab runs a silent server, one that truncates over UDP and cuts TCP short, one that
answers bytes that are no DNS message, and a lame one. Here the scanner talks to them
directly, as its resolver and as a zone's name server, and IPv6 reachability is measured
against a listening and a dead port on ::1.
"""

from __future__ import annotations

import asyncio
import socket

import dns.name
import pytest

from scanner.probes.context import ProbeContext
from scanner.probes.dns.probe import probe_dns, reachable
from scanner.probes.dns.query import ask, authoritative_for, has_route, zone_transfer
from scanner.probes.net import PortMap, ProbeError
from scanner.probes.resolver import Resolver
from tests.conftest import probe_context
from tests.judging import REGISTRY, judge_all, not_measured

MISBEHAVING = {"silent": "127.0.56.1", "truncate": "127.0.57.1", "garbage": "127.0.58.1"}


def _context(lab, resolver: str, port_map=None, io_timeout=0.5) -> ProbeContext:
    return probe_context(resolver, port_map=port_map or lab.port_map, io_timeout=io_timeout,
                         resolver_timeout=io_timeout, timeout=10.0, trust_anchor=lab.trust_anchor)


def _server(lab, role):
    ip = MISBEHAVING[role]
    return f"{ip}:{lab.port_map.real(ip, 53)}"


@pytest.mark.parametrize("role", sorted(MISBEHAVING))
def test_a_misbehaving_resolver_gives_dns_error_findings(lab, role):
    """Pointed at the broken server as its resolver, the DNS probe reports an error and checks say `error`."""
    ctx = _context(lab, _server(lab, role))
    facts = asyncio.run(asyncio.wait_for(probe_dns(ctx, "www.vlaanderen.test", 443), 10))
    assert set(facts) == {"error"}
    findings = judge_all({"dns": facts}, target="https://www.vlaanderen.test/", now=ctx.now)
    dns_findings = [f for f in findings if f.pillar == "dns"]
    assert sorted(f.check for f in dns_findings) == [c.id for c in REGISTRY if c.pillar == "dns" and c.subject == "endpoint"]
    assert all(not_measured(f) for f in dns_findings)


def test_resolver_failures_say_why(lab):
    async def lookup(role):
        try:
            found = await Resolver(_server(lab, role), timeout=0.5).lookup("www.vlaanderen.test", "A")
            return role, (found.rcode, found.error)
        except ProbeError as exc:
            return role, ("exception", str(exc))

    async def lookups():  # side by side: two of the three only end at the timeout
        return dict(await asyncio.gather(*(lookup(role) for role in MISBEHAVING)))

    out = asyncio.run(lookups())
    assert out["silent"] == ("exception", "DNS lookup of www.vlaanderen.test. A timed out")
    assert out["truncate"][0] == "SERVFAIL"  # TC over UDP, then a cut-short TCP answer
    # dnspython drops unparseable UDP answers (spoofing resistance) and waits: garbage ends as a timeout
    assert out["garbage"] == ("exception", "DNS lookup of www.vlaanderen.test. A timed out")


@pytest.mark.parametrize("role,status,detail", [
    ("silent", "timeout", "did not answer"),
    ("truncate", "malformed", "cut the TCP answer short"),
    ("garbage", "malformed", "no DNS message"),
])
def test_direct_questions_to_broken_name_servers(lab, role, status, detail):
    ctx = _context(lab, lab.resolver)
    reply = asyncio.run(ask(ctx, "ns.example.test", MISBEHAVING[role], "vlaanderen.test", "SOA"))
    assert reply.status == status and detail in reply.detail
    assert authoritative_for(reply, dns.name.from_text("vlaanderen.test"))[0] is None


def test_lame_and_authoritative_servers_and_axfr(lab):
    ctx = _context(lab, lab.resolver, io_timeout=3.0)  # every server here answers: a generous wait keeps a loaded machine from failing it
    zone = dns.name.from_text("roeselare.test")

    async def inner():
        lame = await ask(ctx, "ns3.aalst.test", "127.0.55.1", "aalst.test", "SOA")
        good = await ask(ctx, "ns1.roeselare.test", "127.0.53.1", zone, "SOA")
        open_ = await zone_transfer(ctx, "ns1.roeselare.test", "127.0.53.1", zone)
        closed = await zone_transfer(ctx, "ns1.vlaanderen.test", "127.0.53.1", dns.name.from_text("vlaanderen.test"))
        return lame, good, open_, closed

    lame, good, open_, closed = asyncio.run(inner())
    assert authoritative_for(lame, dns.name.from_text("aalst.test")) == (False, "answered REFUSED")
    assert authoritative_for(good, zone) == (True, "authoritative")
    assert open_.message.answer[0].rdtype == dns.rdatatype.SOA
    assert closed.rcode == "REFUSED"
    # every question went through the Network layer and its port map, UDP and TCP alike
    assert [(r.ip, r.port, r.purpose, r.outcome) for r in ctx.network.records] == [
        ("127.0.55.1", 53, "dns", "open"), ("127.0.53.1", 53, "dns", "open"),
        ("127.0.53.1", 53, "dns-axfr", "open"), ("127.0.53.1", 53, "dns-axfr", "open")]


def test_name_server_queries_respect_the_scope(lab):
    from scanner.probes.net import Scope

    ctx = _context(lab, lab.resolver)
    ctx.network.scope = Scope(hosts={"www.vlaanderen.test"})
    reply = asyncio.run(ask(ctx, "ns1.elders.test", "127.0.53.1", "vlaanderen.test", "SOA"))
    assert reply.status == "refused-by-scanner" and "scope" in reply.detail


@pytest.mark.parametrize("ip, why", [("169.254.169.254", "metadata"), ("224.0.0.53", "multicast"),
                                     ("10.20.30.40", "private")])
def test_name_servers_in_forbidden_space_are_refused_before_anything_is_sent(lab, ip, why):
    """Whatever words the refusal uses, it is `refused-by-scanner`, and no socket goes near the address
    (not even the route probe: the test-wide guard would fail the session)."""
    ctx = _context(lab, lab.resolver)
    zone = dns.name.from_text("vlaanderen.test")

    async def inner():
        return (await ask(ctx, "ns.elders.test", ip, zone, "SOA"), await ask(ctx, "ns.elders.test", ip, zone, "SOA", tcp=True),
                await zone_transfer(ctx, "ns.elders.test", ip, zone))

    for reply in asyncio.run(inner()):
        assert reply.status == "refused-by-scanner" and why in reply.detail
    assert ctx.network.records and all(r.outcome.startswith("refused:") for r in ctx.network.records)


@pytest.fixture
def dead_port():
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.bind(("::1", 0))
    yield sock.getsockname()[1]
    sock.close()


def test_ipv6_reachability_of_a_dead_and_a_live_port(lab, dead_port):
    assert has_route("::1")
    live = PortMap({("::1", 443): lab.port_map.real("::1", 443)})
    dead = PortMap({("::1", 443): dead_port})

    up = asyncio.run(reachable(_context(lab, lab.resolver, port_map=live), "h.test", "::1", 443))
    down = asyncio.run(reachable(_context(lab, lab.resolver, port_map=dead), "h.test", "::1", 443))
    assert up == {"address": "::1", "port": 443, "reachable": True}
    assert down["reachable"] is False and "refused" in down["detail"]


def _answering_server(answer):
    """A loopback DNS server of the test's own: `answer(query) -> response` (None: silence)."""

    class Server(asyncio.DatagramProtocol):
        def connection_made(self, transport):
            self.transport = transport

        def datagram_received(self, data, addr):
            response = answer(dns.message.from_wire(data))
            if response is not None:  # None: stay silent
                self.transport.sendto(response.to_wire(), addr)

    return asyncio.get_running_loop().create_datagram_endpoint(Server, local_addr=("127.0.0.1", 0))


def test_a_name_with_hundreds_of_addresses_is_capped(lab):
    """One name may make the scanner contact at most MAX_ADDRESSES addresses per family."""
    import dns.rrset

    from scanner.probes.resolver import MAX_ADDRESSES

    many = [f"127.1.{i // 250}.{i % 250 + 1}" for i in range(60)]

    def answer(query):
        response = dns.message.make_response(query)
        question = query.question[0]
        if question.rdtype == dns.rdatatype.A:
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", "A", many))
        return response

    async def inner():
        transport, _ = await _answering_server(answer)
        try:
            resolver = Resolver(f"127.0.0.1:{transport.get_extra_info('sockname')[1]}", timeout=2.0)
            return await resolver.addresses("veel.test")
        finally:
            transport.close()

    addresses = asyncio.run(inner())
    assert len(addresses) == MAX_ADDRESSES and set(addresses) <= set(many)


@pytest.mark.parametrize("record, lookups, permerror", [
    ("v=spf1 include -all", 0, "spf_syntax"), ("v=spf1 redirect", 0, "spf_syntax"),
    ("v=spf1 include: a:x.test -all", 0, "spf_syntax"),  # an empty include target
    ("v=spf1 INCLUDE:Self.Spf.Test ?all", 1, "spf_include_loop"),  # the loop is followed once
])
def test_malformed_spf_terms_are_permanent_errors_not_fatal(record, lookups, permerror):
    """A bare `include` or `redirect` (no target), an empty target, or a loop back to itself: the
    SPF facts say what a receiver meets (RFC 7208 §4.6: a permerror), never an exception out of
    the mail probe."""
    import dns.rrset

    from scanner.probes.mail.probe import spf
    from scanner.standards.spf import evaluate

    def answer(query):
        response = dns.message.make_response(query)
        question = query.question[0]
        if question.rdtype == dns.rdatatype.TXT and question.name == dns.name.from_text("self.spf.test"):
            response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "TXT", f'"{record}"'))
        return response

    async def inner():
        transport, _ = await _answering_server(answer)
        try:
            ctx = probe_context(f"127.0.0.1:{transport.get_extra_info('sockname')[1]}")
            return await spf(ctx, "self.spf.test")
        finally:
            transport.close()

    facts = asyncio.run(inner())
    assert facts["record"] == record and facts["lookups"] == lookups
    assert evaluate("self.spf.test", facts["dns"]).permerror.code == permerror


def test_one_mx_host_that_cannot_be_looked_up_spoils_only_its_own_facts(lab):
    """The resolver stays silent about mx2's TLSA: that MX gets an error, mx1 and the domain's
    SPF, DMARC and DNS facts stay."""
    import dns.rrset

    from scanner.probes.mail.probe import probe_mail

    def answer(query):
        question = query.question[0]
        if question.name == dns.name.from_text("_25._tcp.mx2.post.test"):
            return None
        response = dns.message.make_response(query)
        records = {("post.test.", dns.rdatatype.MX): ("MX", ["10 mx1.post.test.", "20 mx2.post.test."]),
                   ("post.test.", dns.rdatatype.TXT): ("TXT", ['"v=spf1 mx -all"'])}
        hit = records.get((question.name.to_text(), question.rdtype))
        if hit:
            response.answer.append(dns.rrset.from_text_list(question.name, 60, "IN", *hit))
        return response

    async def inner():
        transport, _ = await _answering_server(answer)
        try:
            ctx = probe_context(f"127.0.0.1:{transport.get_extra_info('sockname')[1]}", io_timeout=0.5,
                                resolver_timeout=0.5, timeout=10.0, trust_anchor=lab.trust_anchor)
            return await probe_mail(ctx, "post.test")
        finally:
            transport.close()

    facts = asyncio.run(asyncio.wait_for(inner(), 20))
    mail = facts["mail"]
    assert "error" not in mail and mail["spf"]["all"] == "-all"
    mx1, mx2 = mail["mx"]
    assert mx1["host"] == "mx1.post.test" and mx1["error"] == "mx1.post.test has no address"
    assert mx2["host"] == "mx2.post.test" and "timed out" in mx2["error"] and mx2["starttls"] is None


def test_trusting_ad_a_servfail_is_asked_again_with_checking_disabled():
    """A validating resolver that fails validation answers SERVFAIL; asked again with CD it hands
    over the data, so the chain walk can say why (the lookup says it took a retry)."""
    import dns.flags
    import dns.rcode
    import dns.rrset

    def answer(query):
        response = dns.message.make_response(query)
        if not query.flags & dns.flags.CD:
            response.set_rcode(dns.rcode.SERVFAIL)
        else:
            response.answer.append(dns.rrset.from_text(query.question[0].name, 60, "IN", "A", "192.0.2.8"))
        return response

    async def inner():
        transport, _ = await _answering_server(answer)
        try:
            res = Resolver(f"127.0.0.1:{transport.get_extra_info('sockname')[1]}", timeout=1.0, trust_ad=True)
            return await res.lookup("kapot.test", "A")
        finally:
            transport.close()

    lookup = asyncio.run(inner())
    assert lookup.cd_retry and lookup.rcode == "NOERROR" and lookup.texts() == ["192.0.2.8"]


def test_the_root_zone_has_a_report_too(lab):
    """The denial probe name under the root is 'bolwerk-denial-probe.', not a name with an empty label."""
    from scanner.probes.dns.zone import zone_report

    report = asyncio.run(zone_report(_context(lab, lab.resolver), dns.name.root))
    assert report["dnssec_zone"]["denial_proof"]["name"] == "bolwerk-denial-probe."
    assert report["delegation"]["parent_note"] == "the root has no parent"


def test_answers_seeded_from_another_event_loop_are_not_asked_again(lab):
    """The address lookups made before a scan is split over worker processes are handed to
    the workers' resolvers (`seed`): packed answers, usable on another event loop, each
    answering its question without a query; a question not seeded is asked."""
    import dns.rrset

    from scanner.probes.resolver import packed

    asked = []

    def answer(query):
        question = query.question[0]
        asked.append((question.name.to_text(), dns.rdatatype.to_text(question.rdtype)))
        response = dns.message.make_response(query)
        if question.rdtype == dns.rdatatype.A:
            response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", "127.1.0.7"))
        return response

    async def resolve(seed=()):
        transport, _ = await _answering_server(answer)
        try:
            resolver = Resolver(f"127.0.0.1:{transport.get_extra_info('sockname')[1]}", timeout=2.0)
            resolver.seed(seed)
            return await resolver.address_lookups("gezaaid.test"), await resolver.addresses("ander.test")
        finally:
            transport.close()

    first, _ = asyncio.run(resolve())
    assert len(asked) == 4
    again, other = asyncio.run(resolve(packed(found) for found in first))  # a new loop, as in a forked worker
    assert again == first and other == ["127.1.0.7"]
    assert sorted(asked[4:]) == [("ander.test.", "A"), ("ander.test.", "AAAA")]
