"""nginx as the scale lab's web server: the generated estate served as a real server serves it.

At 10,000 endpoints the lab's own Python web server used as much of the two cores as the
scan it serves; issue 16 measured Bolwerk against one nginx. `python -m scanner.lab --scale
N --web nginx` (bench/scale.py, when `nginx` is on PATH) writes one nginx configuration for
the whole estate, one server block per host: its certificate chosen by SNI, the site's
header profile on every answer (`add_header ... always`), security.txt served or missing,
the http:// redirect or site, connections kept alive. Each address listens on a free
loopback port of its own per scheme (the port map sends the scanner there). nginx runs in
the foreground as a child of the lab process and stops with it; nothing binds outside
127.0.0.0/8, and the system's nginx service is not involved.

Connections are counted as the Python server counts them: of the `stub_status` total, the
plain-HTTP ones are those the access log shows with their first request
($connection_requests = 1 on port 80's listeners), and the HTTPS ones those whose TLS
handshake completed (the error log, at level info, names each that failed).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.lab.listener import free_port
from scanner.lab.web import HEAD_TIMEOUT, NOT_FOUND, PAGE_TYPE, Site

NGINX = shutil.which("nginx")
HEADERS_MORE = "ngx_http_headers_more_filter_module.so"  # sets Server as the site says (Debian: libnginx-mod-http-headers-more-filter)
STATUS_IP = "127.99.0.2"
START_TIMEOUT = 60.0


@dataclass
class Host:
    """One host of the estate as nginx serves it."""

    name: str
    ip: str
    cert: Path
    key: Path
    https: Site
    http: Site | None  # None: nothing on port 80 for this host


def _quoted(text: str, variables: bool = False) -> str:
    """An nginx string literal (its parser turns \\n and \\" back into the characters); `$`
    starts a variable there, so text without variables must not hold one."""
    if "$" in text and not variables:
        raise ValueError(f"nginx lab: {text[:60]!r} holds a '$'")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _headers(site: Site, more: bool, skip_type: bool) -> list[str]:
    """The site's header profile, on every answer; Server replaces nginx's own (with headers-more)."""
    out = []
    for name, value in site.headers:
        if name.lower() == "content-type" and skip_type:
            continue
        if name.lower() == "server" and more:
            out.append(f"more_set_headers {_quoted(f'Server: {value}')};")
        else:
            out.append(f"add_header {name} {_quoted(value)} always;")
    return out


def _locations(site: Site, more: bool) -> list[str]:
    """What scanner/lab/web.py's Site.respond answers, as nginx locations."""
    if site.routes:
        raise ValueError(f"lab host {site.host}: nginx serves no custom routes")
    headers = _headers(site, more, skip_type=False)
    if site.redirect_to:
        return ["location / {", *headers, f"return 301 {_quoted(site.redirect_to + '$request_uri', variables=True)};", "}"]
    page_type = next((v for n, v in site.headers if n.lower() == "content-type"), PAGE_TYPE)
    out = ["location = / {", f"default_type {_quoted(page_type)};", *_headers(site, more, skip_type=True),
           f"return 200 {_quoted(site.body.decode())};", "}",
           "location / {", f"default_type {_quoted(NOT_FOUND[0])};", *headers,
           f"return 404 {_quoted(NOT_FOUND[1])};", "}"]
    for path, (ctype, body) in site.files.items():  # served bare, as the Python server serves files
        out += [f"location = {path} {{", f"default_type {_quoted(ctype)};", f"return 200 {_quoted(body.decode())};",
                "}"]
    return out


def _tls(profile: dict[str, Any]) -> list[str]:
    """A lab TLS profile as nginx directives (the scale estate's profile needs no more)."""
    unknown = set(profile) - {"versions", "ciphers", "ecdh_curve"}
    if unknown:
        raise ValueError(f"nginx lab: TLS profile keys not supported: {', '.join(sorted(unknown))}")
    out = [f"ssl_protocols {' '.join(profile['versions'])};", f"ssl_ciphers {_quoted(profile['ciphers'])};",
           "ssl_prefer_server_ciphers on;", "ssl_session_cache shared:lab:20m;"]
    if "ecdh_curve" in profile:
        out.append(f"ssl_ecdh_curve {profile['ecdh_curve']};")
    return out


def _modules_path() -> Path | None:
    out = subprocess.run([NGINX, "-V"], capture_output=True, text=True).stderr
    for word in out.split():
        if word.startswith("--modules-path="):
            return Path(word.split("=", 1)[1])
    return None


class NginxServer:
    """One nginx for every host given; `start` returns where each address's 443 and 80 listen."""

    def __init__(self, hosts: list[Host], profile: dict[str, Any], directory: Path) -> None:
        if NGINX is None:
            raise RuntimeError("nginx is not on PATH")
        self.hosts, self.profile, self.dir = hosts, profile, directory / "nginx"
        self.ports: dict[tuple[str, int], int] = {}  # (ip, logical port) -> real port
        self.status_port = 0
        self._accepted_before = 0
        self._proc: subprocess.Popen | None = None

    def config(self) -> str:
        modules = _modules_path()
        more = modules is not None and (modules / HEADERS_MORE).is_file()
        lines = [f"load_module {modules / HEADERS_MORE};" if more else "",
                 "daemon off;", "master_process on;", "worker_processes 1;", "worker_rlimit_nofile 16384;",
                 f"pid {self.dir / 'nginx.pid'};", f"error_log {self.dir / 'error.log'} info;",  # info: each failed TLS handshake
                 "events { worker_connections 8192; }", "http {",
                 "log_format conns '$server_port $connection $connection_requests';",
                 f"access_log {self.dir / 'access.log'} conns buffer=256k flush=5s;",
                 f"keepalive_timeout {HEAD_TIMEOUT:g}s;", "keepalive_requests 10000;",
                 "server_tokens off;", "more_clear_headers Server;" if more else "",
                 *(f"{kind}_temp_path {self.dir / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                       "scgi")),
                 *_tls(self.profile)]
        for host in self.hosts:
            for port, site in ((443, host.https), (80, host.http)):
                if site is None:
                    continue
                if (host.ip, port) not in self.ports:
                    self.ports[host.ip, port] = free_port(host.ip)
                real = self.ports[host.ip, port]
                lines += ["server {", f"listen {host.ip}:{real}{' ssl' if port == 443 else ''};",
                          f"server_name {host.name};"]
                if port == 443:
                    lines += [f"ssl_certificate {host.cert};", f"ssl_certificate_key {host.key};"]
                lines += [*_locations(site, more), "}"]
        self.status_port = free_port(STATUS_IP)
        lines += ["server {", f"listen {STATUS_IP}:{self.status_port};", "access_log off;",
                  "location = /status { stub_status; }", "}", "}"]
        return "\n".join(line for line in lines if line) + "\n"

    def start(self) -> dict[tuple[str, int], int]:
        self.dir.mkdir(parents=True, exist_ok=True)
        conf = self.dir / "nginx.conf"
        conf.write_text(self.config(), encoding="utf-8")
        self._proc = subprocess.Popen([NGINX, "-p", str(self.dir), "-c", str(conf), "-e", str(self.dir / "error.log")],
                                      stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._listening():
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"nginx did not start: {(self.dir / 'error.log').read_text()[-2000:]}")
            time.sleep(0.1)
        self._accepted_before = self._accepts()  # the readiness check's and this question's connections
        return self.ports

    def _listening(self) -> bool:
        try:
            with socket.create_connection((STATUS_IP, self.status_port), timeout=1):
                return True
        except OSError:
            return False

    def _accepts(self) -> int:
        """Connections nginx accepted so far, this question's own included."""
        with urllib.request.urlopen(f"http://{STATUS_IP}:{self.status_port}/status", timeout=10) as resp:
            status = resp.read().decode()
        return int(status.splitlines()[2].split()[0])  # "server accepts handled requests" / "N N N"

    def served(self) -> dict[str, int]:
        """Connections served, https and http, as the Python server counts them (over TLS, those
        whose handshake completed: its handler starts there); `tcp_accepted`: every connection,
        failed handshakes (the TLS probe's tries of versions and ciphers) included. Stops nginx."""
        accepted = self._accepts() - self._accepted_before - 1
        http_ports = {str(real) for (ip, port), real in self.ports.items() if port == 80}
        self.stop()  # the logs' buffers are written out when nginx ends
        http = 0
        for line in (self.dir / "access.log").read_text().splitlines():
            port, _conn, requests = line.split()
            http += port in http_ports and requests == "1"
        with open(self.dir / "error.log", encoding="utf-8", errors="replace") as log:
            failed = sum("while SSL handshaking" in line for line in log)
        return {"https": accepted - http - failed, "http": http, "tcp_accepted": accepted}

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGQUIT)  # graceful: finishes what is open, flushes the log
            try:
                self._proc.wait(15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
