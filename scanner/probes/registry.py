"""The table of probes the runner loops over: the built-ins in order, then third parties'.

Order is part of the facts' shape: the DNS probe comes first (its facts say why a name
gives no address), TLS and certificate before HTTP, and the mail-domain probe last. An
agency adds a probe without a fork by naming a `Probe` object under the `bolwerk.probes`
entry-point group of its own package:

    [project.entry-points."bolwerk.probes"]
    agency = "agency_probes:PROBE"
"""

from __future__ import annotations

import importlib.metadata

from scanner.probes.certificate import probe as certificate
from scanner.probes.dns import probe as dns
from scanner.probes.http import probe as http
from scanner.probes.mail import probe as mail
from scanner.probes.plugin import Probe
from scanner.probes.tls import probe as tls

ENTRY_POINT_GROUP = "bolwerk.probes"
BUILTIN: tuple[Probe, ...] = (dns.PROBE, tls.PROBE, certificate.PROBE, http.PROBE, mail.PROBE)


def default_probes() -> tuple[Probe, ...]:
    """The built-in probes, then every `Probe` registered under the `bolwerk.probes` entry points."""
    probes = list(BUILTIN)
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        probe = ep.load()
        if not isinstance(probe, Probe):
            raise ValueError(f"{ENTRY_POINT_GROUP} entry point {ep.name} ({ep.value}) is not a Probe")
        _admit(probes, probe)
        probes.append(probe)
    return tuple(probes)


def _admit(probes: list[Probe], new: Probe) -> None:
    """One name per probe, and one probe per section of a subject: facts are never overwritten."""
    for probe in probes:
        if probe.name == new.name:
            raise ValueError(f"two probes are named {new.name!r}")
        if probe.subject == new.subject and (shared := set(probe.sections) & set(new.sections)):
            raise ValueError(f"probe {new.name!r} would overwrite the {', '.join(sorted(shared))} facts "
                             f"of probe {probe.name!r}")
