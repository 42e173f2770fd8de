"""Inventories: the three formats, and every mistake named by file, entry and line."""

from pathlib import Path

import pytest

from scanner.inventory import load_inventory
from scanner.model import EndpointKind, InputError
from scanner.standards.public_suffix import registrable_domain


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """
exclude = ["*.opted-out.test", "legacy-svc"]

[[service]]
id = "portaal"
name = "Portaal"
organisation = "Digitaal Vlaanderen"
tags = ["portaal"]
programme = "vlaanderen-radicaal-digitaal"
owner = "team-portaal@example.test"
urls = ["https://portaal.vlaanderen.test/", { url = "https://api.vlaanderen.test:8443/v1", kind = "api" }]
mail_domains = ["Vlaanderen.test."]

[[service]]
name = "Oude site"
urls = ["http://oud.opted-out.test/"]

[[service]]
id = "legacy-svc"
name = "Legacy"
urls = ["legacy.vlaanderen.test"]
"""


def test_toml_inventory(tmp_path):
    inv = load_inventory(write(tmp_path, "inv.toml", GOOD))
    assert [s.id for s in inv.services] == ["portaal"]
    assert sorted(s.id for s in inv.excluded) == ["legacy-svc", "oude-site"]
    svc = inv.services[0]
    assert svc.tags == ["portaal", "programme:vlaanderen-radicaal-digitaal"]
    assert svc.mail_domains == ["vlaanderen.test"]
    assert [e.target for e in svc.endpoints] == ["https://portaal.vlaanderen.test/", "https://api.vlaanderen.test:8443/v1"]
    assert svc.endpoints[1].kind == EndpointKind.API
    assert svc.source.line == 4


def test_csv_and_plain_list(tmp_path):
    csv = write(tmp_path, "inv.csv", "id,name,organisation,urls,kind,tags\n"
                "a,A,Org,https://a.vlaanderen.test/,web,x;y\n"
                "b,B,Org,https://b.vlaanderen.test/ https://c.vlaanderen.test/,api,\n")
    inv = load_inventory(csv)
    assert [s.id for s in inv.services] == ["a", "b"]
    assert inv.services[1].endpoints[1].kind == EndpointKind.API
    assert inv.services[0].tags == ["x", "y"]
    lst = write(tmp_path, "hosts.txt", "# estate\nhttps://a.vlaanderen.test/\nb.vlaanderen.test  # bare host\n\n")
    inv = load_inventory(lst)
    assert [e.target for s in inv.services for e in s.endpoints] == ["https://a.vlaanderen.test/", "https://b.vlaanderen.test/"]
    assert inv.services[1].source.line == 3


def test_idn_hosts_become_a_labels(tmp_path):
    inv = load_inventory(write(tmp_path, "l.txt", "https://bücher.vlaanderen.test/\n"))
    assert inv.services[0].endpoints[0].host == "xn--bcher-kva.vlaanderen.test"


@pytest.mark.parametrize("text, fragment", [
    ('[[service]]\nname = "x"\nurls = ["https://a.test/"]\nurl = "typo"\n', "inv.toml:4: service 'x': url: unknown key"),
    ('[[service]]\nname = "x"\nurls = ["ftp://a.test/"]\n', "scheme must be http or https"),
    ('[[service]]\nname = "x"\nurls = ["https://exa mple.test/"]\n', "not a valid host name"),
    ('[[service]]\nname = "x"\nurls = []\n', "at least one URL"),
    ('[[service]]\nid = "a"\nurls = ["https://a.test/"]\n[[service]]\nid = "a"\nurls = ["https://b.test/"]\n',
     "inv.toml:4: service 'a': duplicate service id"),
    ('[[service]]\nid = "a"\nurls = ["https://a.test/"]\n[[service]]\nid = "b"\nurls = ["https://a.test"]\n',
     "duplicate URL https://a.test/"),
    ('[[service]]\nname = "x"\nurls = [{ url = "https://a.test/", kind = "website" }]\n', "kind 'website' must be one of"),
    ('servce = []\n', "inv.toml:1: servce: unknown key"),
    ('[[service]\nname="x"\n', "invalid TOML"),
    ('[[service]]\nname = "x"\nurls = ["https://user:pw@a.test/"]\n', "credentials do not belong"),
])
def test_bad_toml_is_named(tmp_path, text, fragment):
    with pytest.raises(InputError) as err:
        load_inventory(write(tmp_path, "inv.toml", text))
    assert fragment in str(err.value)
    assert "\n" not in str(err.value)


def test_bad_csv_and_list_name_their_line(tmp_path):
    with pytest.raises(InputError, match=r"inv.csv:1: unknown column 'adres'"):
        load_inventory(write(tmp_path, "inv.csv", "name,adres\nx,y\n"))
    with pytest.raises(InputError, match=r"inv.csv:3: .*not a valid host name"):
        load_inventory(write(tmp_path, "inv.csv", "name,urls\na,https://a.test/\nb,https://b_.test!/\n"))
    with pytest.raises(InputError, match=r"l.txt:2: duplicate entry"):
        load_inventory(write(tmp_path, "l.txt", "a.test\nhttps://a.test/\n"))
    with pytest.raises(InputError, match="inventory file not found"):
        load_inventory(tmp_path / "missing.toml")


def test_registrable_domain():
    assert registrable_domain("mijn.burgerprofiel.vlaanderen") == "burgerprofiel.vlaanderen"
    assert registrable_domain("www.vlaanderen.be") == "vlaanderen.be"
    assert registrable_domain("127.0.0.1") is None
    assert registrable_domain("2001:db8::1") is None


@pytest.mark.parametrize("host,domain", [
    pytest.param("a.b.gov.uk", "b.gov.uk", id="icann-multi-label-suffix"),
    pytest.param("www.stad.antwerpen.be", "antwerpen.be", id="icann-be"),
    pytest.param("gemeente.github.io", "gemeente.github.io", id="private-section-counts"),
    pytest.param("x.y.kawasaki.jp", "x.y.kawasaki.jp", id="wildcard-rule"),
    pytest.param("city.kawasaki.jp", "city.kawasaki.jp", id="exception-rule"),
    pytest.param("WWW.Gent.BE.", "gent.be", id="case-and-root-dot"),
    pytest.param("gov.uk", None, id="a-suffix-is-no-registrable-domain"),
    pytest.param("be", None, id="single-label"),
    pytest.param("www.gent.test", "gent.test", id="unknown-tld-as-a-tld"),
])
def test_registrable_domain_follows_the_public_suffix_list(host, domain):
    assert registrable_domain(host) == domain
