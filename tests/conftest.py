"""Test-wide safety and shared fixtures.

The network guard is an audit hook installed before any test runs: every TCP connect,
UDP send and name lookup to anything but loopback is refused *and* recorded, and the
session fails if any was attempted, even when the code under test swallowed the error.
"""

from __future__ import annotations

import json
import sqlite3
import sys

import pytest

from scanner.lab import guard as loopback_guard

# On before any test runs (and never off): the rule lives in scanner/lab/guard.py, shared
# with the bench scripts.
violations: list[str] = loopback_guard.install("network guard")


def pytest_sessionfinish(session, exitstatus):
    if violations:
        sys.stderr.write("\nnetwork guard: non-loopback destinations were attempted:\n  "
                         + "\n  ".join(violations[:20]) + "\n")
        session.exitstatus = 1


@pytest.fixture(scope="session")
def lab():
    """The lab estate, started once for the session, in a process of its own (LabProcess:
    the scans under test then get a core of their own). Its guard's refusals count here."""
    from scanner.lab import LabProcess

    child = LabProcess()
    with child as info:
        yield info
    violations.extend(f"lab process: {v}" for v in child.violations)


def _loopback_home():
    from scanner.probes.net import AddressPolicy

    return AddressPolicy(home=frozenset({"loopback"}))


# The tests' estate (the lab, a test's own servers) lives on loopback, as the lab's port map says.
LOOPBACK_HOME = _loopback_home()


def probe_context(resolver=None, *, port_map=None, io_timeout: float = 1.0, resolver_timeout: float = 2.0,
                  timeout: float = 30.0, trust_anchor=None, connect_timeout: float | None = None):
    """A ProbeContext for probing lab (or a test's own) servers directly, without a runner.

    `resolver` is an "IP:PORT" string or None; `trust_anchor` adds a DNSSEC validator.
    """
    from datetime import UTC, datetime

    from scanner.probes.context import ProbeContext
    from scanner.probes.dns.validator import TrustAnchors, Validator
    from scanner.probes.net import Limits, Network
    from scanner.probes.resolver import Resolver

    network = Network(port_map=port_map, policy=LOOPBACK_HOME,
                      limits=Limits(rate_per_ip=1000.0, connect_timeout=connect_timeout or io_timeout))
    res = Resolver(resolver, timeout=resolver_timeout, network=network) if resolver else None
    now = datetime.now(UTC)
    validator = Validator(res, TrustAnchors.load([trust_anchor]), now) if trust_anchor else None
    return ProbeContext(network=network, resolver=res, now=now, io_timeout=io_timeout, timeout=timeout,
                        validator=validator)


def lab_options(info, **over):
    from scanner.runner import ScanOptions

    base = dict(resolver=info.resolver, ca_bundle=info.ca_bundle, trust_anchors=[info.trust_anchor],
                port_map=info.port_map, rate_per_ip=500.0, io_timeout=3.0, timeout=30.0)
    base.update(over)
    return ScanOptions(**base)


def scan_lab(info, inventory, db, **over):
    """Scan an inventory of lab services with the lab's options (`over` replaces some)."""
    from checks.registry import default_registry
    from reports.json import build_result
    from scanner.inventory import load_inventory
    from scanner.policy import load_policy
    from scanner.runner import Runner
    from scanner.store import Store

    registry = default_registry()
    store = Store(db)
    run_id = Runner(lab_options(info, **over), registry, load_policy(None, registry), store).scan(load_inventory(inventory))
    result = build_result(store, run_id)
    store.close()
    return result, db, run_id


def lab_inventory(info, ids, path):
    """An inventory file of the lab services with these ids (from the lab's every-service inventory)."""
    blocks = info.inventory_all.read_text(encoding="utf-8").split("[[service]]")[1:]
    kept = [b for b in blocks if any(f'id = "{sid}"' in b for sid in ids)]
    assert len(kept) == len(set(ids)), f"not every service id is in the lab: {ids}"
    path.write_text("".join("[[service]]" + b for b in kept), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def demo_run(lab, tmp_path_factory):
    """`bolwerk demo` run once against the session's lab: (CLI result, its output folder).

    The demo starts a lab of its own; here it gets the running one instead, so the suite
    starts one lab and scans the demo inventory once, through the real command.
    """
    from contextlib import nullcontext

    from click.testing import CliRunner

    import scanner.lab
    from scanner.cli import main

    out = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scanner.lab, "Lab", lambda **kw: nullcontext(lab))
        result = CliRunner().invoke(main, ["demo", "--out", str(out)], catch_exceptions=False)
    # The demo command leaves its store open (closed at process exit); fold the write-ahead
    # log into history.db so that tests may copy that one file.
    db = sqlite3.connect(out / "history.db")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return result, out


@pytest.fixture(scope="session")
def two_runs(demo_run, tmp_path_factory):
    """`bolwerk demo` run twice into one folder with the lab changed in between (`--later`: a
    certificate lapsed, a site dropped its headers, another fixed them): (CLI result, folder)."""
    import shutil
    from contextlib import nullcontext

    from click.testing import CliRunner

    import scanner.lab
    from scanner.cli import main
    from scanner.lab import LabProcess

    _, first = demo_run
    out = tmp_path_factory.mktemp("two-runs")
    shutil.copytree(first, out, dirs_exist_ok=True)
    child = LabProcess("--later")
    with child as later, pytest.MonkeyPatch.context() as patch:
        patch.setattr(scanner.lab, "Lab", lambda **kw: nullcontext(later))
        result = CliRunner().invoke(main, ["demo", "--out", str(out), "--later"], catch_exceptions=False)
    violations.extend(f"lab process: {v}" for v in child.violations)
    db = sqlite3.connect(out / "history.db")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return result, out


@pytest.fixture(scope="session")
def lab_scan(demo_run):
    """One full scan of the demo inventory of the lab: (result dict, store path, run id)."""
    cli, out = demo_run
    assert cli.exit_code == 0, cli.output
    result = json.loads((out / "results.json").read_text(encoding="utf-8"))
    return result, out / "history.db", result["run"]["id"]


@pytest.fixture(scope="session")
def lab_scan_all(lab, tmp_path_factory):
    """One full scan of every lab service, test-only ones included."""
    return scan_lab(lab, lab.inventory_all, tmp_path_factory.mktemp("scan-all") / "history.db")


@pytest.fixture(scope="session")
def lab_args(lab, tmp_path_factory):
    """Command-line options that point `bolwerk scan`/`gate` at the lab (port map via --lab-port-map)."""
    ports = tmp_path_factory.mktemp("ports") / "ports.json"
    ports.write_text(json.dumps(lab.port_map.to_json()), encoding="utf-8")
    return ["--resolver", lab.resolver, "--ca-bundle", str(lab.ca_bundle), "--trust-anchor", str(lab.trust_anchor),
            "--lab-port-map", str(ports), "--rate", "500", "--io-timeout", "3", "--timeout", "30"]


@pytest.fixture
def services(lab_scan):
    return {s["id"]: s for s in lab_scan[0]["services"]}


