"""A large lab estate, generated: thousands of HTTPS endpoints on loopback, for `bench/scale.py`.

The estate is made of organisations, each with its own DNS zone (`o<n>.test`, two in three
signed) and one address (`127.100.x.y`) shared by its ten hosts, as a government's load
balancer or hosting provider shares one. Each host has its own certificate from the lab
CA; the hosts of a zone are grouped into services of one to four endpoints; every zone
sends its mail through one shared provider (`mx.postbus.test`, STARTTLS), has SPF and
DMARC, and half of them a CAA record. Header profiles, security.txt and the http://
behaviour rotate over the estate's own profiles, so the findings vary as in a real estate.

One web server process serves it all: one listener per address and port, the certificate
chosen by SNI, the site by the Host header, connections kept alive as real servers keep
them. That server is the lab's own Python one (scanner/lab/web.py; what the tests use)
or, with `web="nginx"`, one nginx (scanner/lab/nginx.py; the benchmark's when nginx is
installed), so the lab's own work does not weigh on a large run. The lab's DNS servers
answer for every generated name. Everything binds to loopback only; it is started in a
process of its own (`LabProcess("--scale", N)`), so that its work does not count in the
scanner's.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from scanner.lab.lab import Lab, _server_context
from scanner.lab.listener import OPEN
from scanner.lab.nginx import Host, NginxServer
from scanner.lab.smtp import SmtpServer
from scanner.lab.web import Site, WebServer

HOSTS_PER_ADDRESS = 10
SERVICE_SIZES = (1, 2, 3, 4)  # endpoints per service within a zone's ten hosts
HEADER_PROFILES = ("strong", "basic", "strong", "api", "none", "legacy")
MAIL_HOST = "mx.postbus.test"
MAIL_IP = "127.99.0.1"


def address(n: int) -> str:
    """The n-th zone's address: 127.100.0.1 upwards, 250 per /24."""
    return f"127.{100 + n // 62500}.{n // 250 % 250}.{1 + n % 250}"


def scale_estate(endpoints: int, base: dict[str, Any]) -> dict[str, Any]:
    """The estate of `endpoints` endpoints (a multiple of ten is rounded up), in the lab's own shape."""
    zones, web, services = [], [], []
    for z in range(-(-endpoints // HOSTS_PER_ADDRESS)):
        zone = f"o{z}.test"
        records = ['@ TXT "v=spf1 mx -all"', f'_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{zone}"',
                   f"@ MX 10 {MAIL_HOST}."]
        if z % 2 == 0:
            records.append('@ CAA 0 issue "lab-ca.vlaanderen.test"')
        zones.append({"name": zone, "signed": z % 3 != 2, "records": records})
        hosts = [f"w{h}.{zone}" for h in range(min(HOSTS_PER_ADDRESS, endpoints - z * HOSTS_PER_ADDRESS))]
        for n, host in enumerate(hosts):
            web.append({"host": host, "ip": address(z), "tls": "modern", "cert": "valid",
                        "headers": HEADER_PROFILES[(z + n) % len(HEADER_PROFILES)],
                        "http": "redirect" if n % 5 else "serve",
                        "security_txt": "valid" if n % 3 == 0 else "missing"})
        start = 0
        for k, size in enumerate(SERVICE_SIZES):
            mine = hosts[start:start + size]
            start += size
            if mine:
                services.append({"id": f"o{z}-s{k}", "name": f"Dienst {k} van organisatie {z}",
                                 "organisation": f"Organisatie {z % 97}", "tags": ["schaal"],
                                 "urls": [f"https://{h}/" for h in mine]})
    zones.append({"name": "postbus.test", "signed": True, "records": []})
    return {"tls": base["tls"], "headers": base["headers"], "zone": zones, "web": web,
            "mx": [{"host": MAIL_HOST, "ip": MAIL_IP, "starttls": True}], "service": services}


class VirtualHosts(WebServer):
    """One listener for every host on an address: the certificate by SNI, the site by Host."""

    def __init__(self, ip: str, sites: dict[str, Site], tls: ssl.SSLContext | None,
                 contexts: dict[str, ssl.SSLContext]) -> None:
        super().__init__(ip, None, tls, keep_alive=True)
        self.sites = sites
        if tls is not None:
            fallback = next(iter(contexts.values()))

            def by_name(sslobj: ssl.SSLObject, server_name: str | None, first: ssl.SSLContext) -> None:
                ctx = contexts.get((server_name or "").lower(), fallback)
                ctx.sni_callback(sslobj, server_name, first)

            tls.sni_callback = by_name

    def site_for(self, headers: dict[str, str]) -> Site | None:
        return self.sites.get(headers.get("host", "").split(":", 1)[0].lower())


class ScaleLab(Lab):
    """The lab with a generated estate of `endpoints` endpoints instead of estate.toml."""

    start_timeout = 900.0  # 10,000 certificates and a thousand signed zones take a while

    def __init__(self, endpoints: int, web: str = "python") -> None:
        super().__init__()
        self.estate = scale_estate(endpoints, self.estate)
        self.web = web  # "python" or "nginx"
        self.nginx: NginxServer | None = None

    def _allocate(self) -> None:
        for entry in self.estate["web"] + self.estate["mx"]:
            self.addresses[entry["host"]] = [entry["ip"]]

    async def _start_servers(self) -> None:
        profile = self.estate["tls"]["modern"]
        self.counted: list[tuple[str, Any]] = []
        if self.web == "nginx":
            self._start_nginx(profile)
        else:
            await self._start_virtual_hosts(profile)
        mx = self.estate["mx"][0]
        cert, key = self.ca.server_files(mx["host"], "valid", self.dir)
        smtp = SmtpServer(mx["ip"], mx["host"], _server_context(profile, cert, key))
        self.port_map.add(mx["ip"], 25, await smtp.start())
        self._servers.append(smtp)
        self.counted.append(("smtp", smtp))
        await self._start_dns()

    async def _start_virtual_hosts(self, profile: dict[str, Any]) -> None:
        """The lab's Python web server: two listeners (443, 80) per address, its hosts behind them."""
        by_ip: dict[str, list[dict[str, Any]]] = {}
        for entry in self.estate["web"]:
            by_ip.setdefault(entry["ip"], []).append(entry)
        for ip, entries in by_ip.items():
            https: dict[str, Site] = {}
            http: dict[str, Site] = {}
            contexts: dict[str, ssl.SSLContext] = {}
            for entry in entries:
                host = entry["host"]
                https[host], http[host] = self._sites(entry)
                cert, key = self.ca.server_files(host, entry["cert"], self.dir)
                contexts[host] = _server_context(profile, cert, key)
            # the listener's own context: versions and ciphers; SNI then picks the host's certificate
            listening = _server_context(profile, cert, key)
            for port, sites, tls in ((443, https, listening), (80, {h: s for h, s in http.items() if s}, None)):
                server = VirtualHosts(ip, sites, tls, contexts)
                self.port_map.add(ip, port, await server.start())
                self._servers.append(server)
                self.counted.append(("https" if tls else "http", server))

    def _start_nginx(self, profile: dict[str, Any]) -> None:
        """One nginx for every host (scanner/lab/nginx.py), a child of this process."""
        hosts = []
        for entry in self.estate["web"]:
            https, http = self._sites(entry)
            cert, key = self.ca.server_files(entry["host"], entry["cert"], self.dir)
            hosts.append(Host(entry["host"], entry["ip"], cert, key, https, http))
        self.nginx = NginxServer(hosts, profile, self.dir)
        for (ip, port), real in self.nginx.start().items():
            self.port_map.add(ip, port, real)

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        super().stop()

    def served(self) -> dict[str, Any]:
        """Connections each kind of server accepted, DNS questions answered, and (Python's web
        server) the most connections ever open at once to one web address (the scanner's cap
        per address). Stops nginx (its counts are final then)."""
        out = {"https": 0, "http": 0, "smtp": 0, "web_server": self.web}
        for kind, server in self.counted:
            out[kind] += server.accepted
        if self.nginx is not None:
            out.update(self.nginx.served())
        else:
            out["peak_per_address"] = max(OPEN.peak[address(z)] for z in range(len(self.estate["zone"]) - 1))
        out["dns_tcp"] = sum(s._tcp.accepted for s in self.info.servers.values())
        out["dns_questions"] = sum(len(s.queries) for s in self.info.servers.values())
        return out


def write_port_map(lab_dir: Path, port_map: Any) -> Path:
    import json

    path = lab_dir / "port-map.json"
    path.write_text(json.dumps(port_map.to_json()), encoding="utf-8")
    return path
