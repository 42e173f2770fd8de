"""nginx as the scale lab's web server (scanner/lab/nginx.py) answers as the lab's Python
server does: the same status, redirect target, header profile and body for each kind of
host, its certificate by SNI, on the port map's loopback ports. Runs where nginx is installed."""

from __future__ import annotations

import socket
import ssl

import pytest

from scanner.lab import LabProcess
from scanner.lab.nginx import NGINX

pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")

# w0: page served on http:// too, security.txt valid; w1: http:// redirects, no security.txt;
# o0's hosts rotate over the header profiles (w3: "api", its own Content-Type; w5: "legacy", a Server banner)
HOSTS = [f"w{n}.o0.test" for n in range(6)]
PATHS = ["/", "/.well-known/security.txt", "/elders?x=1"]
SERVERS_OWN = {"date", "server", "connection", "content-length", "keep-alive"}  # what each server says of itself


def fetch(info, scheme: str, host: str, path: str) -> tuple[int, list[tuple[str, str]], bytes, str]:
    """One request as a client sends it: the status, the headers, the body, the certificate's name."""
    ip = info.addresses[host][0]
    port = info.port_map.real(ip, 443 if scheme == "https" else 80, host)
    sock = socket.create_connection((ip, port), timeout=5)
    subject = ""
    if scheme == "https":
        ctx = ssl.create_default_context(cafile=str(info.ca_bundle))
        sock = ctx.wrap_socket(sock, server_hostname=host)
        subject = dict(x[0] for x in sock.getpeercert()["subject"])["commonName"]
    with sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while len(data) < 1 << 20 and (chunk := sock.recv(65536)):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = [(n.strip().lower(), v.strip()) for n, v in (line.split(":", 1) for line in lines[1:])]
    return int(lines[0].split()[1]), headers, body, subject


def answers(info) -> dict:
    out = {}
    for host in HOSTS:
        for scheme in ("https", "http"):
            for path in PATHS:
                status, headers, body, subject = fetch(info, scheme, host, path)
                mine = sorted((n, v) for n, v in headers if n not in SERVERS_OWN)
                if 300 <= status < 400:  # nginx writes a body (and its type) on a redirect; the lab sends none
                    mine = [(n, v) for n, v in mine if (n, v) != ("content-type", "text/html")]
                    body = b""
                elif path.startswith("/.well-known"):
                    body = b"\n".join(line for line in body.splitlines() if not line.startswith(b"Expires"))
                server = [v for n, v in headers if n == "server"]
                out[scheme, host, path] = (status, mine, body, subject, [v for v in server if v != "nginx"])
    return out


def test_nginx_serves_the_scale_estate_as_the_python_server_does():
    with LabProcess("--scale", "10", start_timeout=120) as python_lab:
        expected = answers(python_lab)
    nginx = LabProcess("--scale", "10", "--web", "nginx", start_timeout=120)
    with nginx as nginx_lab:
        got = answers(nginx_lab)
    assert got == expected
    assert expected["https", "w5.o0.test", "/"][4] == ["Apache/2.2.15 (CentOS)"]  # the legacy profile's banner
    assert nginx.served["web_server"] == "nginx"
    assert nginx.served["https"] == len(HOSTS) * len(PATHS) and nginx.served["http"] == len(HOSTS) * len(PATHS)
