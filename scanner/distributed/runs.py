"""What passes between the coordinator and its workers: the run, the units, the results.

A run's context (its limits, deadlines, scope, address policy, resolver, trust anchors and
the instant it started) is published once in Redis under `bolwerk:run:<id>`; each task carries only the
run id and one unit. Files named on the coordinator's command line (a CA bundle, DNSSEC
trust anchors) travel as their text, since a worker may run on another machine. A worker
of another Bolwerk version or with another probe table refuses the run: its facts would
not have the shape the coordinator judges.

A result is the unit's facts as compact JSON text, at most `MAX_RESULT_BYTES`: a worker
replaces larger facts by an error in each section, and the coordinator refuses a larger
text before it parses it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scanner.model import Endpoint, EndpointKind
from scanner.probes.net import AddressPolicy, Scope
from scanner.work import Unit

RUN_KEY = "bolwerk:run:{}"
MAX_RESULT_BYTES = 4 * 1024 * 1024
SHIPPED_OPTIONS = ("per_host", "per_ip", "rate_per_ip", "timeout", "io_timeout", "resolver", "trust_resolver_ad",
                   "port_map")


class Refused(Exception):
    """A run or a result this side will not take; the message says why."""


@dataclass
class RunContext:
    run_id: str
    version: str  # the coordinator's Bolwerk
    probes: list[str]  # its probe table, in order
    now: str  # RFC 3339: the instant the run started, which probes judge validity against
    options: dict[str, Any]  # SHIPPED_OPTIONS of ScanOptions.to_json()
    scope: dict[str, Any]  # hosts, suffixes, denied
    addresses: dict[str, list[str]]  # the AddressPolicy: allowed networks, home kinds, targets
    ca_bundle: list[str] | None = None  # --ca-bundle: [file name, PEM text]
    trust_anchors: list[list[str]] = field(default_factory=list)  # --trust-anchor: [file name, text] each

    @classmethod
    def of_run(cls, run_id: str, version: str, probes: list[str], now: str, options: dict[str, Any], scope: Scope,
               addresses: AddressPolicy, ca_bundle: Path | None, trust_anchors: list[Path]) -> RunContext:
        return cls(run_id, version, probes, now, {k: options[k] for k in SHIPPED_OPTIONS},
                   {"hosts": sorted(scope.hosts), "suffixes": list(scope.suffixes), "denied": sorted(scope.denied)},
                   {"allowed": [str(n) for n in addresses.allowed], "home": sorted(addresses.home),
                    "targets": sorted(addresses.targets)},
                   _file(ca_bundle) if ca_bundle else None, [_file(p) for p in trust_anchors])

    def scope_of_run(self) -> Scope:
        return Scope(set(self.scope["hosts"]), tuple(self.scope["suffixes"]), set(self.scope["denied"]))

    def addresses_of_run(self) -> AddressPolicy:
        a = self.addresses
        return AddressPolicy(tuple(ipaddress.ip_network(n) for n in a["allowed"]), frozenset(a["home"]),
                             frozenset(a["targets"]))

    def publish(self, client: Any, ttl: int) -> None:
        client.set(RUN_KEY.format(self.run_id), json.dumps(asdict(self)), ex=ttl)

    @classmethod
    def fetch(cls, client: Any, run_id: str) -> RunContext:
        text = client.get(RUN_KEY.format(run_id))
        if text is None:
            raise Refused(f"run {run_id} is not known to the broker (finished, or older than its results)")
        return cls(**json.loads(text))

    def refusal(self, version: str, probes: list[str]) -> str | None:
        """Why a worker of `version` with `probes` must not collect for this run, if it must not."""
        if version != self.version or probes != self.probes:
            return (f"run {self.run_id} was started by Bolwerk {self.version} with probes {', '.join(self.probes)}; "
                    f"this worker is Bolwerk {version} with probes {', '.join(probes)}")
        return None


def _file(path: Path) -> list[str]:
    """A file as a worker gets it: its name (facts name the trust store by it) and its text."""
    return [path.name, path.read_text(encoding="utf-8")]


def unit_to_json(unit: Unit) -> dict[str, Any]:
    ep = unit.endpoint
    return {"kind": unit.kind, "subject": unit.subject, "services": list(unit.services),
            "endpoint": [ep.scheme, ep.host, ep.port, ep.path, str(ep.kind)] if ep else None,
            "dkim_selectors": list(unit.dkim_selectors)}


def unit_from_json(data: dict[str, Any]) -> Unit:
    ep = data["endpoint"]
    endpoint = Endpoint(ep[0], ep[1], int(ep[2]), ep[3], EndpointKind(ep[4])) if ep else None
    return Unit(data["kind"], data["subject"], tuple(data["services"]), endpoint, tuple(data["dkim_selectors"]))


def task_id(run_id: str, unit: Unit) -> str:
    """The same for the same unit of the same run, whoever sends it: an endpoint of a service,
    or a mail domain with its DKIM selectors (whichever services ask for it)."""
    key = [unit.kind, unit.subject, unit.services[0] if unit.kind == "endpoint" else "", list(unit.dkim_selectors)]
    return f"bolwerk.{run_id}.{hashlib.sha256(json.dumps(key).encode()).hexdigest()[:32]}"


def encode_result(addresses: list[str], facts: dict[str, Any]) -> str:
    """A unit's facts as the task returns them; too large, an error in each section instead."""
    text = json.dumps({"addresses": addresses, "facts": facts}, separators=(",", ":"), ensure_ascii=False)
    size = len(text.encode())
    if size <= MAX_RESULT_BYTES:
        return text
    error = f"the facts collected ({size} bytes) exceed the {MAX_RESULT_BYTES} bytes a worker may return"
    return json.dumps({"addresses": addresses, "facts": {section: {"error": error} for section in facts}},
                      separators=(",", ":"))


def decode_result(text: Any) -> tuple[list[str], dict[str, Any]]:
    """A task's result: (addresses, facts); Refused when it is too large or not a result."""
    if not isinstance(text, str):
        raise Refused(f"a result must be JSON text, not {type(text).__name__}")
    if len(text) > MAX_RESULT_BYTES:  # more characters than the bound: certainly more bytes
        raise Refused(f"a result of {len(text)} characters exceeds the {MAX_RESULT_BYTES} bytes a result may have")
    try:
        data = json.loads(text)
        addresses, facts = data["addresses"], data["facts"]
    except (ValueError, KeyError, TypeError) as exc:
        raise Refused(f"not a result: {exc}") from None
    if not (isinstance(addresses, list) and all(isinstance(a, str) for a in addresses) and isinstance(facts, dict)):
        raise Refused("not a result: expected addresses (a list of text) and facts (an object)")
    return addresses, facts
