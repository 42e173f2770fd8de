"""Start the whole lab estate on loopback, hand the scanner what it needs, stop it cleanly.

The lab runs in its own thread and event loop, so the scanner under test (or `bolwerk
demo`) uses its own loop exactly as in a real scan; `LabProcess` runs it in a child
process instead (the test suite), so that it does not share the scanner's core. Every server binds to a 127.0.0.x
address (or ::1) on a free port; the scanner reaches it through a port map from the
logical 443/80/25, so URLs and MX records look like the real thing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import dns.dnssec
import dns.name
import dns.rdataclass
import dns.rdatatype
import dns.zone
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from scanner.lab import (
    hostile,  # noqa: F401  (registers the misbehaving servers' handlers)
    openssl_server,
    stapling,  # noqa: F401  (registers the stapling handlers)
)
from scanner.lab.ca import LabCA
from scanner.lab.dns_server import DnsServer, ZoneSet
from scanner.lab.dns_zones import DEFAULT_NS, NAME_SERVERS, _break_signatures, _ns_names, sign_nsec3
from scanner.lab.smtp import SmtpServer
from scanner.lab.tls_services import (  # (also registers the `tls-script` handler)
    ALLOW_CLIENT_RENEGOTIATION,
    NO_ENCRYPT_THEN_MAC,
    NO_EXTENDED_MASTER_SECRET,
    scripted,
    set_versions,
)
from scanner.lab.web import HANDLERS, Site, WebServer
from scanner.probes.net import PortMap

ESTATE = resources.files(__package__).joinpath("estate.toml")
LATER = resources.files(__package__).joinpath("estate-later.toml")  # the estate a week later
FRAGMENTS = resources.files(__package__).joinpath("estate.d")
DNS_IP = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
FIRST_HOST_OCTET = 10


@dataclass
class LabInfo:
    """What a scanner needs to scan the lab, and what the lab intends each service to get."""

    directory: Path
    resolver: str
    port_map: PortMap
    ca_bundle: Path
    trust_anchor: Path
    inventory: Path
    expectations: dict[str, dict[str, Any]]
    addresses: dict[str, list[str]]
    servers: dict[str, Any] = field(default_factory=dict)  # the running servers, in the lab's own process only
    inventory_all: Path | None = None  # every lab service, the demo's and the test-only ones

    def to_json(self) -> dict[str, Any]:
        """Everything but the server objects, for a lab that runs in another process."""
        return {"directory": str(self.directory), "resolver": self.resolver, "port_map": self.port_map.to_json(),
                "ca_bundle": str(self.ca_bundle), "trust_anchor": str(self.trust_anchor),
                "inventory": str(self.inventory), "expectations": self.expectations, "addresses": self.addresses,
                "inventory_all": str(self.inventory_all) if self.inventory_all else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabInfo:
        paths = {k: Path(data[k]) if data[k] else None
                 for k in ("directory", "ca_bundle", "trust_anchor", "inventory", "inventory_all")}
        return cls(resolver=data["resolver"], port_map=PortMap.from_json(data["port_map"]),
                   expectations=data["expectations"], addresses=data["addresses"], **paths)


class LabProcess:
    """The lab in a child process (`python -m scanner.lab`), for a scan in this one.

    In one process the lab's servers and the scanner under test share one interpreter
    lock, so a scan of the whole estate runs on one core at a time; in a child of its own
    the lab has the other core (the test suite's full-estate scan: ~17 s -> ~13 s on two
    cores). The child installs the loopback guard, reports the lab's LabInfo as one JSON
    line, runs until its stdin closes (also when this process dies), then stops the lab
    and reports what its guard refused (`violations`).
    """

    def __init__(self, *args: str, start_timeout: float = START_TIMEOUT) -> None:
        self.args, self.start_timeout = args, start_timeout  # for `python -m scanner.lab`, e.g. ("--scale", "1000")
        self.violations: list[str] = []
        self.served: dict[str, int] = {}  # what a scale lab's servers answered (scanner/lab/scale.py)
        self._proc: subprocess.Popen | None = None

    def __enter__(self) -> LabInfo:
        root = Path(__file__).resolve().parents[2]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
        self._proc = subprocess.Popen([sys.executable, "-m", "scanner.lab", *self.args], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, text=True, env=env)
        ready, _, _ = select.select([self._proc.stdout], [], [], self.start_timeout)
        line = self._proc.stdout.readline() if ready else ""
        if not line:
            self._end()
            raise RuntimeError(f"the lab process did not start within {self.start_timeout:.0f} s "
                               f"(exit status {self._proc.returncode})")
        return LabInfo.from_json(json.loads(line))

    def __exit__(self, *exc: object) -> None:
        self._end()

    @property
    def pid(self) -> int:
        return self._proc.pid

    def _end(self) -> None:
        try:
            out, _ = self._proc.communicate(timeout=STOP_TIMEOUT + 5)  # closes its stdin: the lab stops
        except subprocess.TimeoutExpired:
            self._proc.kill()
            out, _ = self._proc.communicate()
        for line in out.splitlines():
            if line.startswith("{"):
                report = json.loads(line)
                self.violations += report.get("violations", [])
                self.served.update(report.get("served", {}))


LISTS = ("zone", "web", "mx", "service")


class _QuietEof(logging.Filter):
    """asyncio warns on every client that closes a lab TLS connection first; that is the lab working."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "eof_received()" not in record.getMessage()


logging.getLogger("asyncio").addFilter(_QuietEof())


def load_estate(path: Traversable = ESTATE, fragments: Traversable | None = FRAGMENTS) -> dict[str, Any]:
    """The estate file plus every `estate.d/*.toml` fragment (one per pillar's lab cases).

    Lists of hosts, zones and services are concatenated; zones of the same name merge
    their records; profile tables (tls, headers...) merge, a name defined twice is an error.
    """
    estate = tomllib.loads(path.read_text(encoding="utf-8"))
    found = fragments.iterdir() if fragments and fragments.is_dir() else []
    for frag in sorted((f for f in found if f.name.endswith(".toml")), key=lambda f: f.name):
        data = tomllib.loads(frag.read_text(encoding="utf-8"))
        for key, value in data.items():
            if key in LISTS:
                estate.setdefault(key, []).extend(value)
            elif isinstance(value, dict):
                table = estate.setdefault(key, {})
                for name, item in value.items():
                    if name in table:
                        raise ValueError(f"{frag.name}: {key}.{name} is already defined")
                    table[name] = item
            else:
                raise ValueError(f"{frag.name}: unexpected top-level key {key}")
    zones: dict[str, dict[str, Any]] = {}
    for zone in estate.get("zone", []):
        if zone["name"] in zones:
            merged = zones[zone["name"]]
            merged["records"] = merged.get("records", []) + zone.get("records", [])
            if "signed" in zone and zone["signed"] != merged.get("signed"):
                raise ValueError(f"zone {zone['name']} is declared both signed and unsigned")
        else:
            zones[zone["name"]] = dict(zone)
    estate["zone"] = list(zones.values())
    return estate


def changed_hosts(estate: dict[str, Any], changes: dict[str, Any]) -> None:
    """Apply the changes of estate-later.toml: each names a web host and the keys it changes."""
    hosts = {entry["host"]: entry for entry in estate.get("web", [])}
    for change in changes.get("web", []):
        if change["host"] not in hosts:
            raise ValueError(f"estate-later.toml: no lab web host {change['host']}")
        hosts[change["host"]].update(change)


def _zone_of(host: str, zones: list[str]) -> str:
    matches = [z for z in zones if host == z or host.endswith("." + z)]
    if not matches:
        raise ValueError(f"lab host {host} is in no lab zone")
    return max(matches, key=len)


# How a TLS profile's behaviour keys set OpenSSL: key -> (value that sets it, option bits)
PROFILE_OPTIONS = {
    "client_renegotiation": (True, ALLOW_CLIENT_RENEGOTIATION),
    "extended_master_secret": (False, NO_EXTENDED_MASTER_SECRET),
    "encrypt_then_mac": (False, NO_ENCRYPT_THEN_MAC),
    "resumption": (False, ssl.OP_NO_TICKET),
}


def _behave(ctx: ssl.SSLContext, tls_profile: dict[str, Any]) -> None:
    """A profile's behaviour: cipher order, renegotiation, EMS, encrypt-then-MAC, tickets, ALPN."""
    if tls_profile.get("server_preference") is False:
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE
    for key, (value, option) in PROFILE_OPTIONS.items():
        if tls_profile.get(key, not value) == value:
            ctx.options |= option
    if tls_profile.get("resumption") is False:
        ctx.num_tickets = 0
    if "alpn" in tls_profile:
        ctx.set_alpn_protocols(tls_profile["alpn"])


def _server_context(tls_profile: dict[str, Any], cert: Path, key: Path) -> ssl.SSLContext:
    """The host's TLS profile now; its certificate and key only when a client first arrives.

    Loading a key costs OpenSSL 3 a few milliseconds and the lab has a hundred hosts, most
    of which a given test never touches. Versions and ciphers stay with the connection's
    first context; the callback hands OpenSSL the context holding the certificate, as SNI
    virtual hosting does.
    """
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    set_versions(ctx, tls_profile["versions"])
    ctx.set_ciphers(tls_profile["ciphers"])
    if "ecdh_curve" in tls_profile:
        ctx.set_ecdh_curve(tls_profile["ecdh_curve"])
    _behave(ctx, tls_profile)
    loaded: list[ssl.SSLContext] = []

    def with_certificate(sslobj: ssl.SSLObject, server_name: str | None, first: ssl.SSLContext) -> None:
        if not loaded:
            keyed = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            keyed.set_ciphers(tls_profile["ciphers"])  # the same security level, so weak lab keys load
            _behave(keyed, tls_profile)
            keyed.load_cert_chain(cert, key)
            loaded.append(keyed)
        sslobj.context = loaded[0]

    ctx.sni_callback = with_certificate
    return ctx


def _tls(tls_profile: dict[str, Any], cert: Path, key: Path) -> ssl.SSLContext | Callable[[], ssl.SSLContext]:
    """The server's TLS: one context, or (`resumption = false`) a fresh one per connection,
    so no session cache outlives a connection (Python's ssl cannot switch the cache off)."""
    if tls_profile.get("resumption") is False:
        return lambda: _server_context(tls_profile, cert, key)
    return _server_context(tls_profile, cert, key)


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """What asyncio.run does at its end: cancel what is left, let it finish, close the loop."""
    tasks = asyncio.all_tasks(loop)
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks, timeout=STOP_TIMEOUT))
    loop.run_until_complete(loop.shutdown_asyncgens())
    loop.close()


def _dead_port(holders: list[socket.socket], ip: str) -> int:
    """A port bound but not listening: connecting to it is refused, and nobody else takes it."""
    sock = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((ip, 0))
    holders.append(sock)
    return sock.getsockname()[1]


class Lab:
    start_timeout = START_TIMEOUT

    def __init__(self, estate: Traversable = ESTATE, fragments: Traversable | None = FRAGMENTS,
                 later: bool = False) -> None:
        self.estate = load_estate(estate, fragments)
        if later:
            changed_hosts(self.estate, tomllib.loads(LATER.read_text(encoding="utf-8")))
        self.now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        self.dir: Path | None = None  # made by start(), removed by stop()
        self.ca = LabCA(self.now)
        self.port_map = PortMap()
        self.addresses: dict[str, list[str]] = {}
        self._servers: list[Any] = []
        self._holders: list[socket.socket] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.info: LabInfo | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> LabInfo:
        self.dir = Path(tempfile.mkdtemp(prefix="bolwerk-lab-"))
        self._allocate()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = self._loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._start_servers())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
            else:
                ready.set()
                loop.run_forever()
            finally:
                _close_loop(loop)
                ready.set()

        self._thread = threading.Thread(target=run, name="bolwerk-lab", daemon=True)
        self._thread.start()
        if not ready.wait(self.start_timeout):
            failure.append(TimeoutError(f"the lab did not start within {self.start_timeout:.0f} s"))
        if failure:
            self.stop()
            raise failure[0]
        self.info = self._write_files()
        return self.info

    def stop(self) -> None:
        """Stop every server and end their open connections, close the loop, remove the files."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._stop_servers(), loop).result(STOP_TIMEOUT)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(STOP_TIMEOUT)
        for sock in self._holders:
            sock.close()
        self._holders.clear()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> LabInfo:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- building ---------------------------------------------------------------------------

    def _allocate(self) -> None:
        """One loopback address per lab host: 127.0.0.10 upwards (then 127.0.1.10...)."""
        for n, entry in enumerate(self.estate.get("web", []) + self.estate.get("mx", [])):
            host = entry["host"]
            if host in self.addresses:
                raise ValueError(f"lab host {host} is defined twice")
            ip = f"127.0.{n // 240}.{FIRST_HOST_OCTET + n % 240}"
            self.addresses[host] = [ip] + (["::1"] if entry.get("ipv6") else [])

    def _sites(self, entry: dict[str, Any]) -> tuple[Site | None, Site | None]:
        host = entry["host"]
        headers = list(self.estate["headers"][entry.get("headers", "none")].items())
        files = {path: ("text/plain; charset=utf-8", body.encode()) for path, body in entry.get("files", {}).items()}
        sectxt = entry.get("security_txt", "missing")
        if sectxt != "missing":
            expires = self.now + dt.timedelta(days=180 if sectxt == "valid" else -30)
            files["/.well-known/security.txt"] = ("text/plain; charset=utf-8", (
                f"Contact: mailto:security@{host}\nExpires: {expires.strftime('%Y-%m-%dT%H:%M:%SZ')}\n"
                f"Preferred-Languages: nl, en\nCanonical: https://{host}/.well-known/security.txt\n").encode())
        https = None
        if entry.get("tls", "modern") != "none":
            https = Site(host, "https", headers, redirect_to=entry.get("redirect_to"), files=files,
                         routes=entry.get("https_routes", {}))
        mode = entry.get("http", "redirect")
        http = None
        if mode == "redirect":
            http = Site(host, "http", [h for h in headers if h[0].lower() != "strict-transport-security"],
                        redirect_to=f"https://{host}", routes=entry.get("http_routes", {}))
        elif mode == "serve":
            http = Site(host, "http", [h for h in headers if h[0].lower() != "strict-transport-security"],
                        files=files, routes=entry.get("http_routes", {}))
        return https, http

    async def _start_servers(self) -> None:
        for entry in self.estate.get("web", []):
            host = entry["host"]
            https_site, http_site = self._sites(entry)
            tls_ctx = None
            if https_site is not None:
                cert, key = self.ca.server_files(host, entry.get("cert", "valid"), self.dir)
                tls_ctx = _tls(self.estate["tls"][entry["tls"]], cert, key)
            for ip in self.addresses[host]:
                for port, site, ctx in ((443, https_site, tls_ctx), (80, http_site, None)):
                    custom = entry.get("https_handler" if port == 443 else "http_handler")
                    if site is None and not custom:
                        self.port_map.add(ip, port, _dead_port(self._holders, ip), host)
                        continue
                    site = site or Site(host, "https" if port == 443 else "http")
                    handler = HANDLERS[custom](dict(entry, tls_context=ctx, issued=self.ca.served.get(host),
                                                    servers=self._servers), site) if custom else None
                    server = WebServer(ip, site, None if handler else ctx, handler)
                    self.port_map.add(ip, port, await server.start(), host)
                    self._servers.append(server)
        for entry in self.estate.get("mx", []):
            host = entry["host"]
            tls_ctx = None
            if entry.get("starttls"):
                cert, key = self.ca.server_files(host, entry.get("cert", "valid"), self.dir, port=25)
                tls_ctx = _tls(self.estate["tls"][entry.get("tls", "modern")], cert, key)
            for ip in self.addresses[host]:
                server = SmtpServer(ip, host, tls_ctx, self._after_starttls(entry))
                self.port_map.add(ip, 25, await server.start(), host)
                self._servers.append(server)
        await self._start_dns()

    def _after_starttls(self, entry: dict[str, Any]) -> Any:
        """Who speaks TLS after an MX's STARTTLS when Python's ssl does not: the scripted
        responder (`tls_script`) or openssl s_server (`s_server`)."""
        issued = self.ca.served.get(entry["host"])
        if "tls_script" in entry:
            return scripted(entry["tls_script"], issued)
        if "s_server" in entry:
            return openssl_server.relay(openssl_server.for_entry(dict(entry, issued=issued, servers=self._servers)))
        return None

    async def _stop_servers(self) -> None:
        await asyncio.gather(*(s.stop() for s in self._servers), return_exceptions=True)

    # -- DNS ------------------------------------------------------------------------------

    async def _start_dns(self) -> None:
        """The zones' own name servers (one per role and address), then the lab's resolver."""
        main = self._zones()
        self.dns_servers: dict[str, DnsServer] = {}
        for role, (_label, addresses, behaviour) in NAME_SERVERS.items():
            zones = ZoneSet(self._role_zones.get(role, []), axfr=self._axfr)
            for ip in addresses:
                server = DnsServer(zones, ip, behaviour)
                self.port_map.add(ip, 53, await server.start())
                self._servers.append(server)
                self.dns_servers[f"dns:{role}" + (":v6" if ":" in ip else "")] = server
        for zone, role in self._forward.items():
            ip = NAME_SERVERS[role][1][0]
            main.forward[dns.name.from_text(zone)] = (ip, self.port_map.real(ip, 53))
        self.dns = DnsServer(main, DNS_IP, claims_ad=True)
        await self.dns.start()
        self._servers.append(self.dns)

    def _zones(self) -> ZoneSet:
        """The estate's zones under a signed lab root and a signed `test.`, children signed first.

        A zone's `ns` roles (NAME_SERVERS) name its servers, `parent_ns` the ones its parent
        delegates to (default: the same). Signed zones take `algorithm`, `nsec3 = {iterations,
        salt, opt_out}`, `signature_days`, `bogus` (names whose signatures are broken) and
        `ds_digest`; `axfr = true` lets its servers hand out the zone. Zones served only by
        misbehaving servers are not hosted by the lab resolver: it forwards to them.
        """
        estate_zones = {z["name"]: z for z in self.estate.get("zone", [])}
        names = list(estate_zones)
        records: dict[str, list[str]] = {name: list(z.get("records", [])) for name, z in estate_zones.items()}
        for host, ips in self.addresses.items():
            zone = _zone_of(host, names)
            rel = host[: -len(zone) - 1] if host != zone else "@"
            for ip in ips:
                records[zone].append(f"{rel} {'AAAA' if ':' in ip else 'A'} {ip}")
        for record in self.ca.records:  # TLSA and the like, made with the certificates
            records[_zone_of(record.split()[0].rstrip("."), names)].append(record)
        parents = {name: max((p for p in names if name.endswith("." + p)), key=len, default="test") for name in names}
        self.zone_keys: dict[str, Any] = {}
        self._role_zones: dict[str, list[dns.zone.Zone]] = {}
        self._axfr = [dns.name.from_text(n) for n, z in estate_zones.items() if z.get("axfr")]
        self._forward: dict[str, str] = {}
        delegations: dict[str, list[str]] = {"test": []}
        hosted: list[dns.zone.Zone] = []
        for name in sorted(names, key=lambda n: -n.count(".")):
            spec = estate_zones[name]
            roles = spec.get("ns", list(DEFAULT_NS))
            zone = self._zone(name, records[name] + delegations.get(name, []), _ns_names(name, roles))
            lines = [f"{name}. NS {ns}" for ns, _ in _ns_names(name, spec.get("parent_ns", roles))]
            lines += [f"{ns} {'AAAA' if ':' in ip else 'A'} {ip}" for ns, ips in _ns_names(name, roles) for ip in ips]
            if spec.get("signed"):
                lines.append(self._sign(zone, name, spec))
            delegations.setdefault(parents[name], []).extend(lines)
            for role in roles:
                self._role_zones.setdefault(role, []).append(zone)
            if all(NAME_SERVERS[r][2] != "normal" for r in roles):
                self._forward[name] = roles[0]
            else:
                hosted.append(zone)
        tld = [("ns.test.", NAME_SERVERS["tld"][1])]
        test_zone = self._zone("test", delegations["test"], tld)
        root_zone = self._zone("", ["test. NS ns.test.", *(f"ns.test. {'AAAA' if ':' in ip else 'A'} {ip}"
                                                          for ip in NAME_SERVERS["tld"][1]),
                                    self._sign(test_zone, "test", {})], tld)
        self._sign(root_zone, "", {})
        self._role_zones["tld"] = [root_zone, test_zone]
        return ZoneSet([root_zone, test_zone, *hosted])

    def _zone(self, name: str, records: list[str], ns: list[tuple[str, tuple[str, ...]]]) -> dns.zone.Zone:
        origin = f"{name}." if name else "."
        head = [f"$ORIGIN {origin}", "$TTL 300",
                f"@ SOA {ns[0][0]} hostmaster.{origin if name else 'test.'} 2026112801 3600 600 86400 300"]
        head += [f"@ NS {host}" for host, _ in ns]
        if name:
            head += [f"{host} {'AAAA' if ':' in ip else 'A'} {ip}" for host, ips in ns for ip in ips
                     if host.endswith("." + origin)]
        text = "\n".join(head + records) + "\n"
        return dns.zone.from_text(text, origin=origin, relativize=False, check_origin=True)

    def _sign(self, zone: dns.zone.Zone, name: str, spec: dict[str, Any]) -> str:
        """Sign with a fresh key (ECDSA P-256 unless `algorithm` says otherwise); return the parent's DS line."""
        algorithm = dns.dnssec.Algorithm[spec.get("algorithm", "ECDSAP256SHA256")]
        key = (rsa.generate_private_key(65537, 1024) if algorithm.name.startswith("RSA")
               else ec.generate_private_key(ec.SECP256R1()))
        dnskey = dns.dnssec.make_dnskey(key.public_key(), algorithm, flags=257)
        inception = self.now - dt.timedelta(days=1)
        expiration = self.now + dt.timedelta(days=spec.get("signature_days", 30))
        if "nsec3" in spec:
            sign_nsec3(zone, key, dnskey, inception, expiration, spec["nsec3"])
        else:
            dns.dnssec.sign_zone(zone, keys=[(key, dnskey)], add_dnskey=True, dnskey_ttl=300, inception=inception,
                                 expiration=expiration, policy=dns.dnssec.allow_all_policy)
        for rel in spec.get("bogus", []):
            _break_signatures(zone, dns.name.from_text(rel, zone.origin))
        origin = dns.name.from_text(f"{name}." if name else ".")
        self.zone_keys[name or "."] = (key, dnskey)
        if spec.get("ds_digest") == "GOST":  # a digest type validators need not support (RFC 8624 §3.3)
            return f"{origin.to_text()} DS {dns.dnssec.key_id(dnskey)} {int(algorithm)} 3 {'ab' * 32}"
        ds = dns.dnssec.make_ds(origin, dnskey, "SHA256")
        return f"{origin.to_text()} DS {ds.to_text()}"

    # -- files ----------------------------------------------------------------------------

    def _write_files(self) -> LabInfo:
        ca_bundle = self.dir / "lab-ca.pem"
        ca_bundle.write_bytes(self.ca.root_pem())
        anchor = self.dir / "lab-root-anchor.txt"
        _, dnskey = self.zone_keys["."]
        anchor.write_text("; the lab root's key-signing key, as DS\n"
                          f". IN DS {dns.dnssec.make_ds(dns.name.root, dnskey, 'SHA256').to_text()}\n")
        inventory = self.dir / "inventory.toml"
        demo = [s for s in self.estate["service"] if s.get("demo", True)]
        inventory.write_text(_inventory_toml(demo), encoding="utf-8")
        everything = self.dir / "inventory-all.toml"
        everything.write_text(_inventory_toml(self.estate["service"]), encoding="utf-8")
        expectations = {s["id"]: s.get("expect", {}) for s in self.estate["service"]}
        return LabInfo(self.dir, f"{DNS_IP}:{self.dns.port}", self.port_map, ca_bundle, anchor, inventory,
                       expectations, dict(self.addresses), {"dns": self.dns, **self.dns_servers}, everything)


def _inventory_toml(services: list[dict[str, Any]]) -> str:
    """The estate's services as an ordinary Bolwerk inventory."""
    lines = ["# Lab inventory, written by the Bolwerk lab at start-up.", ""]
    for svc in services:
        lines.append("[[service]]")
        for key in ("id", "name", "organisation", "owner", "tags", "urls", "mail_domains", "dkim_selectors"):
            if key in svc:
                lines.append(f"{key} = {_toml_value(svc[key])}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
