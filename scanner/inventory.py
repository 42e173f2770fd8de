"""Inventories: the services to scan, from TOML, CSV or a plain list of URLs and hosts.

Every mistake is an `InputError` naming the file, the entry (line where known) and the
key, so a typo in a thousand-line inventory takes seconds to find.
"""

from __future__ import annotations

import csv
import io
import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scanner.inputfiles import INVENTORY_LIMIT, read_text
from scanner.model import (
    DEFAULT_PORTS,
    Endpoint,
    EndpointKind,
    InputError,
    Service,
    SourceRef,
    shown,
)
from scanner.standards.addresses import private_network
from scanner.tomlfile import kind_of, line_of, load_toml, nth_table_line, where

SERVICE_KEYS = {"id", "name", "organisation", "tags", "owner", "urls", "mail_domains", "programme", "dkim_selectors"}
URL_KEYS = ("url", "kind")
MAIL_DOMAIN_KEYS = ("domain", "dkim_selectors")
TOP_KEYS = {"service", "exclude", "scope", "inventory", "networks"}
CSV_COLUMNS = {"id", "name", "organisation", "tags", "owner", "urls", "url", "mail_domains", "kind", "programme"}
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


@dataclass
class Inventory:
    services: list[Service]
    excluded: list[Service] = field(default_factory=list)
    scope_suffixes: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()  # private networks (CIDR) the estate lives in: the scan may contact them
    source: str = ""


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:64] or "service"


def valid_hostname(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    if len(host) > 253 or "." not in host:
        return False
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return all(_LABEL.match(label) for label in ascii_host.lower().split("."))


def valid_suffix(suffix: str) -> bool:
    """A scope suffix (`--scope`, an inventory's `scope`): one or more DNS labels, a leading dot allowed."""
    name = suffix.lower().removeprefix(".").removesuffix(".")
    try:
        ascii_name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return bool(name) and len(ascii_name) <= 253 and all(_LABEL.match(label) for label in ascii_name.split("."))


def parse_url(text: str, kind: str, loc: str) -> Endpoint:
    """A URL or bare host -> Endpoint; bad input names where it was written."""
    raw = text.strip()
    if not raw:
        raise InputError(loc, "empty URL")
    if "://" not in raw:
        raw = "https://" + raw
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise InputError(loc, f"bad URL {shown(text)}: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise InputError(loc, f"bad URL {shown(text)}: scheme must be http or https")
    if parts.username or parts.password:
        raise InputError(loc, f"bad URL {shown(text)}: credentials do not belong in an inventory")
    host = (parts.hostname or "").rstrip(".")
    if not host or not valid_hostname(host):
        raise InputError(loc, f"bad URL {shown(text)}: {shown(host) if host else 'no host'} is not a valid host name")
    try:
        ekind = EndpointKind(kind)
    except ValueError:
        raise InputError(loc, f"kind {shown(kind)} must be one of web, api, redirect") from None
    scheme = parts.scheme.lower()
    ascii_host = host.lower() if host.isascii() else host.encode("idna").decode("ascii").lower()
    return Endpoint(scheme, ascii_host, port or DEFAULT_PORTS[scheme], parts.path or "/", ekind)


def _strings(value: Any, loc: str, key: str) -> list[str]:
    if isinstance(value, str):
        return [v for v in re.split(r"[\s;,]+", value) if v]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InputError(loc, f"{key}: expected a list of strings, got {kind_of(value)}")


def _text(entry: dict[str, Any], key: str, loc: str) -> str:
    """An optional string field of a service ("" when absent)."""
    value = entry.get(key, "")
    if not isinstance(value, str):
        raise InputError(loc, f"{key}: expected a string, got {kind_of(value)}")
    return value


def _finish(services: list[Service], excludes: list[str], path: Path, lines: dict[str, int | None]) -> Inventory:
    seen_ids: dict[str, str] = {}
    seen_urls: dict[str, str] = {}
    for svc in services:
        loc = where(path, f"service {shown(svc.id)}", lines.get(svc.id))
        if svc.id in seen_ids:
            raise InputError(loc, f"duplicate service id (first defined at {seen_ids[svc.id]})")
        seen_ids[svc.id] = loc
        for ep in svc.endpoints:
            if ep.target in seen_urls:
                raise InputError(loc, f"duplicate URL {ep.target} (also in {seen_urls[ep.target]})")
            seen_urls[ep.target] = svc.id
    excluded, kept = [], []
    for svc in services:
        hit = any(svc.id == x or any(_host_match(h, x) for h in svc.hosts()) for x in excludes)
        (excluded if hit else kept).append(svc)
    return Inventory(kept, excluded, source=str(path))


def _host_match(host: str, pattern: str) -> bool:
    pattern = pattern.lower().rstrip(".")
    if pattern.startswith("*."):
        return host.endswith(pattern[1:])
    return host == pattern


def _known_keys(item: dict[str, Any], known: tuple[str, ...], loc: str) -> None:
    unknown = set(item) - set(known)
    if unknown:
        raise InputError(loc, f"unknown key {shown(sorted(unknown)[0])} (expected {', '.join(known)})")


def _service(entry: dict[str, Any], loc: str, path: Path, line: int | None) -> Service:
    """One inventory entry, every field checked for its type before it is used."""
    urls = entry.get("urls", [])
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not urls:
        raise InputError(loc, "urls: at least one URL is required" if isinstance(urls, list)
                         else f"urls: expected a list of URLs, got {kind_of(urls)}")
    endpoints = []
    for n, item in enumerate(urls):
        item_loc = f"{loc}: urls[{n}]"
        if isinstance(item, dict):
            _known_keys(item, URL_KEYS, item_loc)
            if not isinstance(item.get("url"), str):
                raise InputError(item_loc, f"url: expected a string, got {kind_of(item['url'])}" if "url" in item
                                 else "url: required (a table {url, kind})")
            kind = item.get("kind", "web")
            if not isinstance(kind, str):
                raise InputError(item_loc, f"kind: expected a string, got {kind_of(kind)}")
            endpoints.append(parse_url(item["url"], kind, item_loc))
        elif isinstance(item, str):
            endpoints.append(parse_url(item, "web", item_loc))
        else:
            raise InputError(item_loc, f"expected a URL string or a table {{url, kind}}, got {kind_of(item)}")
    name = _text(entry, "name", loc) or endpoints[0].host
    sid = _text(entry, "id", loc) or slug(name)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", sid):
        raise InputError(loc, f"id: {shown(sid)} must be 1-64 letters, digits, '.', '_' or '-'")
    tags = _strings(entry.get("tags", []), loc, "tags")
    if programme := _text(entry, "programme", loc):
        tags.append(f"programme:{programme}")
    mail_domains, selectors = _mail_domains(entry, loc)
    return Service(
        id=sid, name=name, organisation=_text(entry, "organisation", loc), tags=sorted(set(tags)),
        owner=_text(entry, "owner", loc), endpoints=endpoints, mail_domains=sorted(set(mail_domains)),
        source=SourceRef(str(path), line), dkim_selectors=selectors,
    )


def _mail_domains(entry: dict[str, Any], loc: str) -> tuple[list[str], dict[str, list[str]]]:
    """`mail_domains` (names, or tables {domain, dkim_selectors}) and the DKIM selectors by
    domain; a service-wide `dkim_selectors` applies to every mail domain of the service ("*")."""
    items = entry.get("mail_domains", [])
    items = [items] if isinstance(items, str | dict) else items
    if not isinstance(items, list):
        raise InputError(loc, f"mail_domains: expected a list of domains, got {kind_of(items)}")
    domains: list[str] = []
    selectors: dict[str, list[str]] = {}
    if "dkim_selectors" in entry:
        selectors["*"] = _selectors(entry["dkim_selectors"], loc, "dkim_selectors")
    for n, item in enumerate(items):
        item_loc = f"{loc}: mail_domains[{n}]"
        if isinstance(item, dict):
            _known_keys(item, MAIL_DOMAIN_KEYS, item_loc)
            names = _strings(item.get("domain"), item_loc, "domain") if "domain" in item else []
            if len(names) != 1:
                raise InputError(item_loc, "domain: one domain name required")
        else:
            names = _strings(item, loc, "mail_domains")
        for domain in names:
            domain = domain.lower().rstrip(".")
            if not valid_hostname(domain) or _is_ip(domain):
                raise InputError(loc, f"mail_domains: {shown(domain)} is not a domain name")
            domains.append(domain)
            if isinstance(item, dict) and "dkim_selectors" in item:
                selectors[domain] = _selectors(item["dkim_selectors"], item_loc, "dkim_selectors")
    return domains, selectors


def _selectors(value: Any, loc: str, key: str) -> list[str]:
    """DKIM selectors: dot-separated labels (RFC 6376 §3.1), as <selector>._domainkey.<domain> needs."""
    out = []
    for selector in _strings(value, loc, key):
        if not all(_LABEL.match(label) for label in selector.lower().split(".")):
            raise InputError(loc, f"{key}: {shown(selector)} is not a DKIM selector")
        out.append(selector.lower())
    return sorted(set(out))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def load_toml_inventory(path: Path) -> Inventory:
    data, text = load_toml(path, "inventory", INVENTORY_LIMIT)
    for key in data:
        if key not in TOP_KEYS:
            raise InputError(where(path, key, line_of(text, key)), f"unknown key (expected one of: {', '.join(sorted(TOP_KEYS))})")
    if not isinstance(data.get("inventory", {}), dict):
        raise InputError(where(path, "inventory", line_of(text, "inventory")),
                         f"expected a table, got {kind_of(data['inventory'])}")
    entries = data.get("service", [])
    if not isinstance(entries, list):
        raise InputError(where(path, "service", line_of(text, "service")),
                         f"expected [[service]] entries, got {kind_of(entries)}")
    if not entries:
        raise InputError(str(path), "no [[service]] entries")
    services, lines = [], {}
    for i, entry in enumerate(entries):
        line = nth_table_line(text, "service", i)
        if not isinstance(entry, dict):
            raise InputError(where(path, f"service[{i}]", line or line_of(text, "service")),
                             f"expected a table [[service]], got {kind_of(entry)}")
        label = next((v for v in (entry.get("id"), entry.get("name")) if isinstance(v, str) and v), f"#{i + 1}")
        loc = where(path, f"service {shown(label)}", line)
        for key in entry:
            if key not in SERVICE_KEYS:
                kline = line_of(text, key, after=(line or 1) - 1)
                raise InputError(where(path, f"service {shown(label)}: {key}", kline),
                                 f"unknown key (expected one of: {', '.join(sorted(SERVICE_KEYS))})")
        svc = _service(entry, loc, path, line)
        lines[svc.id] = line
        services.append(svc)
    excludes = _strings(data.get("exclude", []), where(path, "", line_of(text, "exclude")), "exclude")
    inv = _finish(services, excludes, path, lines)
    scope_loc = where(path, "", line_of(text, "scope"))
    scope = _strings(data.get("scope", []), scope_loc, "scope")
    for suffix in scope:
        if not valid_suffix(suffix):
            raise InputError(scope_loc, f"scope: {shown(suffix)} is not a domain name suffix")
    inv.scope_suffixes = tuple(s.lower().lstrip(".") for s in scope)
    networks_loc = where(path, "networks", line_of(text, "networks"))
    networks = _strings(data.get("networks", []), networks_loc, "networks")
    for network in networks:
        try:
            private_network(network)
        except ValueError as exc:
            raise InputError(networks_loc, str(exc)) from None
    inv.networks = tuple(networks)
    return inv


def load_csv_inventory(path: Path) -> Inventory:
    text = read_text(path, "inventory", INVENTORY_LIMIT, encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return _csv_inventory(path, reader)
    except csv.Error as exc:  # a field over the csv module's limit (128 KiB), a NUL byte...
        raise InputError(f"{path}:{reader.line_num + 1}", f"not a CSV inventory: {exc}") from None  # the line it failed on


def _csv_inventory(path: Path, reader: csv.DictReader) -> Inventory:
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    if not columns:
        raise InputError(str(path), "empty CSV (expected a header row)")
    for col in columns:
        if col not in CSV_COLUMNS:
            raise InputError(f"{path}:1", f"unknown column {shown(col)} (expected some of: {', '.join(sorted(CSV_COLUMNS))})")
    if "urls" not in columns and "url" not in columns:
        raise InputError(f"{path}:1", "a 'urls' (or 'url') column is required")
    services, lines, excludes = [], {}, []
    for row in reader:
        n = reader.line_num
        row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
        if not any(row.values()):
            continue
        loc = f"{path}:{n}"
        kind = row.get("kind") or "web"
        urls = _strings(row.get("urls") or row.get("url") or "", loc, "urls")
        entry = {k: v for k, v in row.items() if v and k not in ("url", "urls", "kind")}
        entry["urls"] = [{"url": u, "kind": kind} for u in urls]
        svc = _service(entry, loc, path, n)
        lines[svc.id] = n
        services.append(svc)
    if not services:
        raise InputError(str(path), "no services")
    return _finish(services, excludes, path, lines)


def load_list_inventory(path: Path) -> Inventory:
    text = read_text(path, "inventory", INVENTORY_LIMIT)
    services, lines = [], {}
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        loc = f"{path}:{n}"
        endpoint = parse_url(line, "web", loc)
        svc = Service(id=slug(endpoint.host), name=endpoint.host, endpoints=[endpoint], source=SourceRef(str(path), n))
        if svc.id in lines:
            raise InputError(loc, f"duplicate entry {shown(line)} (also on line {lines[svc.id]})")
        lines[svc.id] = n
        services.append(svc)
    if not services:
        raise InputError(str(path), "no URLs or hosts")
    return _finish(services, [], path, lines)


def load_inventory(path: Path | str) -> Inventory:
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "inventory file not found")
    suffix = path.suffix.lower()
    if suffix == ".toml":
        return load_toml_inventory(path)
    if suffix == ".csv":
        return load_csv_inventory(path)
    return load_list_inventory(path)


def inventory_from_targets(targets: list[str]) -> Inventory:
    """URLs and host names from the command line: a service per host, its targets as endpoints."""
    services: dict[str, Service] = {}
    for n, target in enumerate(targets):
        endpoint = parse_url(target, "web", f"target {n + 1} ({target})")
        svc = services.setdefault(endpoint.host, Service(id=slug(endpoint.host), name=endpoint.host, endpoints=[]))
        svc.endpoints.append(endpoint)
    return _finish(list(services.values()), [], Path("<command line>"), {})


INVENTORY_SUFFIXES = (".toml", ".csv", ".txt", ".list")


def inventory_from_arguments(arguments: list[str]) -> Inventory:
    """What `bolwerk scan` and `bolwerk gate` take: one inventory file, or URLs and host names.

    An argument is a file when it exists or ends like one (`inventory.toml`), so a mistyped
    file name is reported as missing instead of being scanned as a host."""
    files = [a for a in arguments if "://" not in a and (Path(a).exists() or a.lower().endswith(INVENTORY_SUFFIXES))]
    if not files:
        return inventory_from_targets(arguments)
    if len(arguments) > 1:
        raise InputError(files[0], "give one inventory file, or URLs and host names, not both")
    return load_inventory(files[0])
