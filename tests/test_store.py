"""The history: versioned schema, facts committed as they come, interrupted runs kept and resumed."""

import dataclasses
import sqlite3

import pytest

from checks.registry import default_registry
from reports.json import build_result
from scanner.inventory import load_inventory
from scanner.model import InputError
from scanner.policy import load_policy
from scanner.runner import Runner, mail_subjects
from scanner.store import MIGRATIONS, Store
from scanner.work import plan
from tests.conftest import lab_options


def test_schema_is_versioned(tmp_path):
    store = Store(tmp_path / "h.db")
    assert store.schema_version == len(MIGRATIONS)
    store.close()
    db = sqlite3.connect(tmp_path / "h.db")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.commit()
    db.close()
    with pytest.raises(InputError, match="newer than this Bolwerk"):
        Store(tmp_path / "h.db")


def test_not_a_database_is_an_input_error(tmp_path):
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(InputError, match="not a Bolwerk database"):
        Store(path)


def test_interrupted_run_is_kept_and_resumed(lab, tmp_path):
    registry = default_registry()
    policy = load_policy(None, registry)
    demo = load_inventory(lab.inventory)
    inventory = dataclasses.replace(demo, services=demo.services[:4])  # enough to interrupt and resume
    total = sum(len(s.endpoints) + len(mail_subjects(s)) for s in inventory.services)
    store = Store(tmp_path / "h.db")

    def interrupt_after_two(done, total, label):
        if done >= 2:
            raise KeyboardInterrupt

    runner = Runner(lab_options(lab, concurrency=1), registry, policy, store, progress=interrupt_after_two)
    with pytest.raises(KeyboardInterrupt):
        runner.scan(inventory)
    run = store.runs()[0]
    assert run["complete"] == 0 and run["finished"] is not None
    endpoints, domains = store.collected(run["id"])
    kept = len(endpoints) + len(domains)
    # what finished before the interruption is stored, and no more: the first two units (a mail
    # domain that several services share is one unit, stored for all of them at once)
    first_two = list(plan(inventory.services))[:2]
    assert kept == sum(len(u.services) for u in first_two) < total

    Runner(lab_options(lab), registry, policy, store).scan(inventory, resume=run["id"])
    result = build_result(store, run["id"])
    assert result["run"]["complete"] is True
    assert len(result["services"]) == len(inventory.services)
    assert all(s["grade"] for s in result["services"])
    assert all(ep["collected"] for s in result["services"] for ep in s["endpoints"])
    store.close()
