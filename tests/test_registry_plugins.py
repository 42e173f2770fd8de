"""Third-party checks arrive through the `bolwerk.checks` entry-point group, with no fork."""

import importlib
import sys

import checks.registry as registry_module


def test_entry_point_check_is_registered(tmp_path, monkeypatch):
    (tmp_path / "agency_checks.py").write_text(
        "from checks.registry import check, passed\n"
        "@check('http.agency.banner', pillar='http', level='optional', severity='info',\n"
        "       title={'en': 'Agency banner', 'nl': 'Banner van het agentschap'},\n"
        "       remediation={'en': 'Add the banner.', 'nl': 'Voeg de banner toe.'}, references=('agency rule 1',),\n"
        "       messages={'present': {'en': 'banner present', 'nl': 'banner aanwezig'}})\n"
        "def banner(ctx):\n"
        "    return passed('present')\n")
    dist = tmp_path / "agency_checks-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: agency-checks\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[bolwerk.checks]\nagency = agency_checks\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    builtin_before = list(registry_module._BUILTIN)
    monkeypatch.setattr(registry_module, "_DEFAULT", None)
    try:
        reg = registry_module.default_registry()
        assert "http.agency.banner" in reg
        assert reg["http.agency.banner"].title["nl"] == "Banner van het agentschap"
        assert reg["http.agency.banner"].template("present") == {"en": "banner present", "nl": "banner aanwezig"}
        assert "tls.protocol.tls10" in reg  # built-ins still there
    finally:
        registry_module._BUILTIN[:] = builtin_before
        sys.modules.pop("agency_checks", None)
