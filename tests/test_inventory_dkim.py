"""DKIM selectors in the inventory (`dkim_selectors`): per service or per mail domain, and where
the scan takes them (each mail subject carries the selectors that apply to it)."""

import pytest

from scanner.inventory import load_inventory
from scanner.model import InputError
from scanner.runner import mail_subjects

INVENTORY = """
[[service]]
id = "post"
urls = ["https://www.voorbeeld.test/"]
dkim_selectors = ["s1", "S2"]
mail_domains = ["voorbeeld.test", { domain = "nieuws.voorbeeld.test", dkim_selectors = ["nieuws"] }]

[[service]]
id = "zonder"
urls = ["https://www.ander.test/"]
"""


def test_selectors_per_service_and_per_mail_domain(tmp_path):
    path = tmp_path / "inv.toml"
    path.write_text(INVENTORY, encoding="utf-8")
    post, zonder = load_inventory(path).services
    assert post.mail_domains == ["nieuws.voorbeeld.test", "voorbeeld.test"]
    subjects = {s["domain"]: s for s in mail_subjects(post)}
    assert subjects["voorbeeld.test"]["dkim_selectors"] == ["s1", "s2"]  # the service's, lower case
    assert subjects["nieuws.voorbeeld.test"]["dkim_selectors"] == ["nieuws"]  # the domain's own replace them
    assert mail_subjects(zonder) == [{"domain": "ander.test", "declared": False}]  # none named: no key at all


@pytest.mark.parametrize("entry, message", [
    ('dkim_selectors = ["bad selector"]', "dkim_selectors: 'bad selector' is not a DKIM selector"),
    ('mail_domains = [{ domain = "x.test", selectors = ["a"] }]', "unknown key 'selectors'"),
    ('mail_domains = [{ dkim_selectors = ["a"] }]', "domain: one domain name required"),
])
def test_bad_selectors_are_named(tmp_path, entry, message):
    path = tmp_path / "inv.toml"
    path.write_text(f'[[service]]\nid = "x"\nurls = ["https://x.test/"]\n{entry}\n', encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_inventory(path)
