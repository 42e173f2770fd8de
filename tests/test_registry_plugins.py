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
    registry_module.default_registry()  # the built-ins are registered before the snapshot below
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


def _install(tmp_path, monkeypatch, dist: str, module: str, source: str, entry_points: str) -> None:
    """A real distribution on sys.path: the module and its dist-info with entry_points.txt."""
    (tmp_path / f"{module}.py").write_text(source)
    info = tmp_path / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    monkeypatch.delitem(sys.modules, module, raising=False)  # the plugin module leaves with the test


AGENCY_PROBE = """
from scanner.probes.plugin import Probe


async def collect(ctx, target):
    return {"agency": {"host": target.name, "addresses": list(target.addresses),
                       "scheme": target.endpoint.scheme}}


PROBE = Probe("agency", ("agency",), collect, label="agency probe")
"""


def test_entry_point_probe_runs_in_a_scan(lab, tmp_path, monkeypatch):
    """A third party's probe joins the runner's one table after the built-ins and writes its
    own fact section for each endpoint, from the addresses the runner resolved once."""
    from checks.registry import default_registry
    from scanner.inventory import inventory_from_targets
    from scanner.policy import load_policy
    from scanner.probes.registry import BUILTIN, default_probes
    from scanner.runner import Runner
    from scanner.store import Store
    from tests.conftest import lab_options

    _install(tmp_path, monkeypatch, "agency_probes", "agency_probes", AGENCY_PROBE,
             "[bolwerk.probes]\nagency = agency_probes:PROBE\n")
    probes = default_probes()
    assert [p.name for p in probes] == [*(p.name for p in BUILTIN), "agency"]
    registry = default_registry()
    store = Store(tmp_path / "h.db")
    try:
        run_id = Runner(lab_options(lab), registry, load_policy(None, registry), store).scan(
            inventory_from_targets(["http://mijn.vlaanderen.test/"]))
        (svc,) = store.services(run_id)
        stored = svc["endpoint_facts"]["http://mijn.vlaanderen.test/"]
    finally:
        store.close()
    assert set(stored["facts"]) == {"dns", "http", "agency"}  # no TLS on http://
    assert stored["addresses"] and stored["facts"]["agency"] == {
        "host": "mijn.vlaanderen.test", "addresses": stored["addresses"], "scheme": "http"}


def test_a_probe_may_not_overwrite_another_probes_facts(tmp_path, monkeypatch):
    import pytest

    from scanner.probes.registry import default_probes

    _install(tmp_path, monkeypatch, "rogue_probes", "rogue_probes",
             AGENCY_PROBE.replace('("agency",)', '("tls",)').replace('"agency", ', '"rogue", '),
             "[bolwerk.probes]\nrogue = rogue_probes:PROBE\n")
    with pytest.raises(ValueError, match="would overwrite the tls facts of probe 'tls'"):
        default_probes()


def test_a_failing_probe_is_an_error_fact_in_each_of_its_sections():
    """Whatever goes wrong in a probe stays that target's `error` fact, in every section it
    writes (the mail-domain probe writes two), and the run goes on."""
    import asyncio

    from scanner.probes.net import ProbeError
    from scanner.probes.plugin import Probe, Target
    from scanner.work import run_probe

    async def broken(ctx, target):
        raise RuntimeError("boom")

    async def refused(ctx, target):
        raise ProbeError("nothing to ask")

    async def slow(ctx, target):
        await asyncio.sleep(5)

    target = Target.of_domain("post.test")

    def run(collect, budget=1.0):
        probe = Probe("two", ("dns", "mail"), collect, label="two-part probe", subject="mail_domain", budget=budget)
        return asyncio.run(run_probe(None, probe, target, timeout=0.05))

    assert run(broken) == {s: {"error": "two-part probe failed unexpectedly: RuntimeError: boom"} for s in ("dns", "mail")}
    assert run(refused) == {s: {"error": "nothing to ask"} for s in ("dns", "mail")}
    assert run(slow, budget=2.0) == {s: {"error": "two-part probe did not finish within 0.1 s"} for s in ("dns", "mail")}
