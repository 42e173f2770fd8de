"""Single-flight behaviour tests: suite order, TLS compression, fallback protection.

Each is one ClientHello whose ServerHello answers the question, offering only suites the
enumeration saw accepted (small hellos, no refusal for want of a suite):
- order: the accepted suites in reverse. A server that picks its own favourite again
  enforces its order; one that picks our first follows the client. Needed only when the
  enumeration could not tell (a server order that happens to match ours);
- compression: DEFLATE offered next to null; a server that picks it compresses (CRIME).
  The same hello offers heartbeats, so the Heartbleed test can follow on its connection;
- fallback: the second-best version with TLS_FALLBACK_SCSV (RFC 7507); a protected server
  refuses with `inappropriate_fallback`.
"""

from __future__ import annotations

from scanner.probes.tls import wire
from scanner.probes.tls.enumeration import TLS_DOWN, AddressScan, Answer, Continuation
from scanner.standards.tls_registry import suite_name


def order_from(found: list[int], chosen: int) -> bool | None:
    """Server order when the server picked its first choice again from our reversed offer."""
    if chosen == found[0]:
        return True
    if chosen == found[-1]:
        return False
    return None


async def behaviour_hello(scan: AddressScan, version: str, then: Continuation) -> Answer:
    """One hello at `version`: suites reversed (order), DEFLATE (CRIME), heartbeat offered;
    `then` continues the conversation (Heartbleed). Records order and compression."""
    found = scan.suites[version]
    settle = len(found) > 1 and not scan.server_order.get(version)
    ans = await scan.hello((version,), list(reversed(found)) if settle else list(found), scan.hello_groups(version),
                           then=then, compression=(wire.DEFLATE, 0), heartbeat=True)
    if ans.kind != "hello" or ans.hello.version != version:
        scan.note(f"{version}: the behaviour hello was refused ({ans.detail or ans.kind})")
        return ans
    scan.signs.observe(ans.hello, ans.kx)
    scan.behaviour["compression"] = ans.hello.compression == wire.DEFLATE
    if settle:
        scan.server_order[version] = order_from(found, ans.hello.suite)
    return ans


async def tls13_order(scan: AddressScan) -> None:
    """TLS 1.3 suite order, when the enumeration left it open."""
    found = scan.suites.get("TLSv1.3", [])
    if len(found) < 2 or scan.server_order.get("TLSv1.3"):
        return
    ans = await scan.hello(("TLSv1.3",), list(reversed(found)), scan.hello_groups("TLSv1.3"))
    if ans.kind == "hello" and ans.hello.version == "TLSv1.3":
        scan.server_order["TLSv1.3"] = order_from(found, ans.hello.suite)


async def fallback_scsv(scan: AddressScan) -> bool | None:
    """Whether the server refuses a fallback to its second-best version (None: one version only).

    The hello is one the server accepted during the enumeration plus the SCSV, so any refusal
    is the SCSV's doing; RFC 7507 §3 asks for an `inappropriate_fallback` alert, and a note
    says when the server refused otherwise (some close the connection instead).
    """
    offered = scan.offered(TLS_DOWN)
    if len(offered) < 2:
        return None
    version = offered[1]
    ans = await scan.hello((version,), scan.suites[version] + [wire.FALLBACK_SCSV], scan.hello_groups(version))
    if ans.kind == "hello":
        return False
    if not ans.refused:
        scan.note(f"fallback test at {version}: {ans.detail or ans.kind}")
        return None
    if not (ans.kind == "alert" and ans.alert.name == "inappropriate_fallback"):
        scan.note(f"fallback to {version} refused without an inappropriate_fallback alert ({ans.detail or ans.kind})")
    return True


def preference_lists(scan: AddressScan) -> dict[str, list[str]]:
    """The server's suite order per version, where it enforces one and the enumeration saw it
    whole (hellos cut into chunks only show the order within each chunk)."""
    out: dict[str, list[str]] = {}
    for version, found in scan.suites.items():
        if scan.server_order.get(version) and (version == "TLSv1.3" or not scan.compact):
            out[version] = [suite_name(s) for s in found]
    return out

