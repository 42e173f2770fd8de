"""The Celery engine (scanner/distributed): real `bolwerk worker` processes, a real Redis broker
on loopback (with a password), the lab estate.

The distributed scan of the lab's demo estate (13 services, their endpoints and mail
domains; the whole estate takes ~35 s and proves no more) equals the in-process scan, with
a worker killed -9 mid-scan; the caps per address hold across two workers, as the
generated estate's servers count their open connections; a coordinator killed mid-run
collects on --resume what the workers finished meanwhile; a broker restart mid-run is
waited out. Workers run with the tests' loopback guard installed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from reports.hoist import expand
from scanner.lab.broker import RedisBroker, redis_server
from scanner.lab.listener import free_port

pytest.importorskip("celery", reason="the celery extra is not installed")
pytest.importorskip("redis", reason="the celery extra is not installed")

import redis.asyncio  # noqa: E402
from celery.exceptions import NotRegistered  # noqa: E402
from click.testing import CliRunner  # noqa: E402

from scanner.cli import main  # noqa: E402
from scanner.distributed import runs  # noqa: E402
from scanner.distributed.app import TASK, make_app, only_bolwerk_tasks  # noqa: E402
from scanner.distributed.politeness import RedisPoliteness  # noqa: E402
from scanner.model import Endpoint, EndpointKind  # noqa: E402
from scanner.probes.net import AddressPolicy, Scope  # noqa: E402
from scanner.store import Store  # noqa: E402
from scanner.work import Unit  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
VISIBILITY = "5"  # seconds before a killed worker's tasks go to another (the least the CLI takes)
GUARDED_BOLWERK = "from scanner.lab import guard; guard.install('bolwerk under test'); " \
                  "from scanner.cli import main; main()"
RESUMED = ["https://mijn.vlaanderen.test/", "https://acc.omgeving.vlaanderen.test/",
           "http://wegenwerken.wegen-verkeer.test/"]
needs_redis = pytest.mark.skipif(redis_server() is None, reason="redis-server is not installed "
                                 "(apt-get install redis-server; .ci/run installs it)")


def _snapshot_normaliser():
    spec = importlib.util.spec_from_file_location("lab_snapshot", ROOT / "scripts" / "lab_snapshot.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.Normaliser


def comparable(result: dict) -> dict:
    """A result's services, normalised as the lab snapshot does (times, run ids, the lab's random
    values), floats rounded: a signature's days to expiry move with the moment of the scan."""
    def rounded(obj):
        if isinstance(obj, dict):
            return {k: rounded(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [rounded(v) for v in obj]
        return round(obj, 1) if isinstance(obj, float) else obj

    return rounded(_snapshot_normaliser()().json(result["services"]))


@pytest.fixture
def broker():
    if redis_server() is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run installs it)")
    with RedisBroker() as url:
        yield url


class Workers:
    """`bolwerk worker` processes, each with its own log and audit log."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url, self.folder = url, folder
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, *names: str, concurrency: int = 8) -> None:
        for name in names:
            log = (self.folder / f"{name}.log").open("w")
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-c", GUARDED_BOLWERK, "worker", "--broker", self.url, "--name", f"{name}@test",
                 "--concurrency", str(concurrency), "--audit-log", str(self.audit_log(name)),
                 "--visibility-timeout", VISIBILITY], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            log.close()

    def audit_log(self, name: str) -> Path:
        return self.folder / f"{name}.audit.jsonl"

    def audit(self, name: str) -> list[dict]:
        path = self.audit_log(name)
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        return [json.loads(line) for line in lines if line.endswith("}")]

    def received(self, name: str) -> list[str]:
        """The task ids this worker took from the queue, in order (its log says so as each arrives)."""
        text = (self.folder / f"{name}.log").read_text(encoding="utf-8")
        return [line.split("[", 2)[2].split("]")[0] for line in text.splitlines() if "] received" in line]

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(encoding="utf-8")

    def kill(self, name: str) -> None:
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait()

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()  # a warm shutdown
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def workers(broker, tmp_path):
    group = Workers(broker, tmp_path)
    yield group
    group.stop()


def when(condition, timeout: float = 60.0) -> None:
    """Wait until `condition()` holds (a bound on a hang, not a measurement)."""
    give_up = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > give_up:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def celery_scan(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["scan", *args, "--engine", "celery"], catch_exceptions=False)
    return result.exit_code, result.output


# --------------------------------------------------------------------------- whole scans


@needs_redis
def test_a_distributed_scan_through_a_worker_killed_and_a_broker_restart_equals_the_in_process_scan(
        lab, lab_args, lab_scan, tmp_path):
    baseline, _, _ = lab_scan  # the demo estate, scanned in process (bolwerk demo)
    broker = RedisBroker()
    url = broker.start()
    workers = Workers(url, tmp_path)
    try:
        workers.start("doomed", "survivor")

        def faults():
            when(lambda: len(workers.audit("doomed")) >= 5)  # the doomed worker is connecting for its units
            workers.kill("doomed")
            seen = len(workers.audit("survivor"))
            when(lambda: len(workers.audit("survivor")) >= seen + 20)  # the survivor is busy scanning
            broker.restart()

        faulty = threading.Thread(target=faults)
        faulty.start()
        code, output = celery_scan([str(lab.inventory), "--broker", url, "--db", str(tmp_path / "h.db"),
                                    "--json", str(tmp_path / "result.json"), *lab_args])
        faulty.join()
    finally:
        workers.stop()
        broker.__exit__()
    assert code == 0, output + workers.log("survivor")
    result = expand(json.loads((tmp_path / "result.json").read_text(encoding="utf-8")))
    assert result["run"]["complete"] is True
    assert comparable(result) == comparable(baseline)

    # the doomed worker held tasks when it died; they ran again on the survivor ...
    assert set(workers.received("doomed")) & set(workers.received("survivor"))
    # ... and each fact is stored once, none missing
    store = Store(tmp_path / "h.db")
    try:
        rows = store.db.execute("SELECT service_id, target FROM endpoints WHERE run_id = ?",
                                (result["run"]["id"],)).fetchall()
    finally:
        store.close()
    assert sorted(rows) == sorted((svc["id"], ep["target"]) for svc in baseline["services"] for ep in svc["endpoints"])
    # every worker wrote its connections to its audit log, with the run id
    assert {r["run"] for r in workers.audit("survivor") + workers.audit("doomed")} == {result["run"]["id"]}


@needs_redis
def test_caps_per_address_hold_across_two_workers(broker, workers, tmp_path):
    """Ten hosts on one address (the generated estate), two workers: its server never sees more
    connections open at once than --per-ip, though both workers connect to it."""
    from scanner.lab import LabProcess
    from scanner.lab.scale import write_port_map

    workers.start("one", "two", concurrency=4)  # each takes a share of the eleven units
    child = LabProcess("--scale", "10")
    with child as info:
        ports = write_port_map(info.directory, info.port_map)
        code, output = celery_scan([str(info.inventory), "--broker", broker, "--db", str(tmp_path / "h.db"),
                                    "--resolver", info.resolver, "--ca-bundle", str(info.ca_bundle),
                                    "--trust-anchor", str(info.trust_anchor), "--lab-port-map", str(ports),
                                    "--per-ip", "2", "--per-host", "2", "--rate", "500", "--io-timeout", "3"])
        web = {ips[0] for host, ips in info.addresses.items() if host.startswith("w")}
    assert code == 0, output + workers.log("one")
    assert child.served["peak_per_address"] == 2, child.served
    for name in ("one", "two"):
        reached = {r["ip"] for r in workers.audit(name) if r["outcome"] == "open" and r["purpose"] in ("tls", "http")}
        assert reached == web, f"worker {name} reached {reached}, not {web}: the caps were not shared"


@needs_redis
def test_a_coordinator_killed_mid_run_collects_on_resume_what_workers_finished(lab, lab_args, broker, workers,
                                                                             tmp_path):
    inventory = tmp_path / "inventory.txt"
    inventory.write_text("".join(f"{url}\n" for url in RESUMED), encoding="utf-8")
    db = tmp_path / "h.db"
    coordinator = subprocess.Popen([sys.executable, "-c", GUARDED_BOLWERK, "scan", str(inventory), "--engine",
                                    "celery", "--broker", broker, "--db", str(db), *lab_args], cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis.from_url(broker)
    try:
        when(lambda: client.llen("bolwerk") > 0)  # the coordinator sends the run's tasks ...
        coordinator.send_signal(signal.SIGKILL)  # ... and dies before any worker takes one
        coordinator.wait()
        workers.start("late")
        # the worker finishes everything the dead coordinator sent
        when(lambda: client.llen("bolwerk") == 0 and client.hlen("unacked") == 0)
        sent = workers.received("late")
        run_id = Store(db).resolve_run("latest")
        code, output = celery_scan([str(inventory), "--broker", broker, "--db", str(db), "--resume", run_id,
                                    "--json", str(tmp_path / "result.json"), *lab_args])
    finally:
        client.close()
    assert code == 0, output
    result = expand(json.loads((tmp_path / "result.json").read_text(encoding="utf-8")))
    assert result["run"]["id"] == run_id and result["run"]["complete"] is True
    assert sorted(ep["target"] for svc in result["services"] for ep in svc["endpoints"]) == sorted(RESUMED)
    received = workers.received("late")
    assert sent and received[:len(sent)] == sent
    assert len(set(received)) == len(received), "the resumed coordinator sent again what was finished"


# --------------------------------------------------------------------------- the worker's guard


@needs_redis
def test_a_worker_runs_bolwerk_tasks_only_json_only_and_runs_of_its_own_version_only(broker, workers, tmp_path,
                                                                                      monkeypatch):
    workers.start("strict")
    app = make_app(broker)
    try:
        builtin = app.send_task("celery.accumulate", args=[1, 2])  # a Celery built-in a stock worker runs
        pickled = app.send_task(TASK, args=["run", {}], serializer="pickle")
        when(lambda: "celery.accumulate" in workers.log("strict") and "pickle" in workers.log("strict"))
        # the built-in did not run (it would have succeeded with (1, 2)): the worker knows no such task
        assert builtin.state == "FAILURE" and isinstance(builtin.result, NotRegistered)
        assert pickled.state == "PENDING"  # never run, never answered
    finally:
        app.close()
    assert "refusing to deserialize untrusted content of type pickle" in workers.log("strict").lower()

    # a coordinator of another version: the worker refuses its units, the scan stops in one line
    publish = runs.RunContext.publish
    monkeypatch.setattr(runs.RunContext, "publish", lambda self, client, ttl: publish(
        dataclasses.replace(self, version="0.0.0-other"), client, ttl))
    inventory = tmp_path / "inv.txt"
    inventory.write_text("https://a.test/\n", encoding="utf-8")
    code, output = celery_scan([str(inventory), "--broker", broker, "--db", str(tmp_path / "h.db")])
    assert code == 3 and "Traceback" not in output, output
    assert "failed on a worker" in output and "started by Bolwerk 0.0.0-other" in output
    assert Store(tmp_path / "h.db").runs()[0]["complete"] == 0


def test_the_app_knows_one_task_and_takes_json_only():
    app = make_app("redis://127.0.0.1:1/0")
    only_bolwerk_tasks(app)
    assert app.conf.accept_content == ["json"] and app.conf.task_acks_late
    assert "celery.accumulate" not in app.tasks


# --------------------------------------------------------------------------- politeness in Redis


@needs_redis
def test_redis_caps_hold_for_two_workers_and_slots_of_a_dead_one_expire(broker):
    async def scenario():
        clients = [redis.asyncio.Redis.from_url(broker) for _ in range(2)]
        workers_ = [RedisPoliteness(c, per_host=8, per_ip=2, rate_per_ip=float("inf")) for c in clients]
        held, peak = 0, 0

        async def connection(politeness, host):
            nonlocal held, peak
            lease = await politeness.acquire(host, "192.0.2.7")
            held += 1
            peak = max(peak, held)
            await asyncio.sleep(0.01)
            held -= 1
            lease.release()

        async with asyncio.timeout(30):  # a bound on a hang
            await asyncio.gather(*(connection(workers_[i % 2], f"h{i % 5}.test") for i in range(40)))
        assert peak == 2

        # a worker that dies holding both slots: they expire, and another worker takes them
        dying = RedisPoliteness(clients[0], per_host=8, per_ip=2, rate_per_ip=float("inf"), slot_ttl_ms=400)
        for n in range(2):
            await dying.acquire(f"d{n}.test", "192.0.2.8")
        dying._renewer.cancel()  # it stops renewing, as a killed process does
        waited = asyncio.create_task(workers_[1].acquire("x.test", "192.0.2.8"))
        await asyncio.sleep(0.1)
        assert not waited.done()
        async with asyncio.timeout(10):
            (await waited).release()
        for politeness in workers_:
            politeness.close()
        await asyncio.sleep(0.05)  # the releases, sent in the background
        for client in clients:
            await client.aclose()

    asyncio.run(scenario())


@needs_redis
def test_redis_rate_per_address_spaces_connections_of_all_workers(broker):
    async def scenario():
        clients = [redis.asyncio.Redis.from_url(broker) for _ in range(2)]
        workers_ = [RedisPoliteness(c, per_host=16, per_ip=16, rate_per_ip=50.0) for c in clients]
        starts: list[float] = []

        async def connection(politeness, n):
            lease = await politeness.acquire(f"h{n}.test", "192.0.2.9")
            starts.append(time.monotonic())
            lease.release()

        await asyncio.gather(*(connection(workers_[n % 2], n) for n in range(10)))
        starts.sort()
        gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        assert sum(gaps) >= 9 * 0.02 * 0.9, gaps  # ten starts at 50 per second: at least 9 intervals
        for politeness in workers_:
            politeness.close()
        await asyncio.sleep(0.05)
        for client in clients:
            await client.aclose()

    asyncio.run(scenario())


# --------------------------------------------------------------------------- what passes between them


def test_units_travel_whole_and_have_one_task_id_per_run():
    ep = Endpoint("https", "mijn.gent.test", 8443, "/login", EndpointKind.API)
    endpoint = Unit("endpoint", ep.target, ("svc",), ep)
    domain = Unit("mail_domain", "gent.test", ("a", "b"), dkim_selectors=("s1",))
    for unit in (endpoint, domain):
        assert runs.unit_from_json(json.loads(json.dumps(runs.unit_to_json(unit)))) == unit
    assert runs.task_id("r1", endpoint) == runs.task_id("r1", endpoint) != runs.task_id("r2", endpoint)
    # a mail domain keeps its id when a resumed plan groups fewer services under it
    assert runs.task_id("r1", domain) == runs.task_id("r1", Unit("mail_domain", "gent.test", ("b",),
                                                                  dkim_selectors=("s1",)))


def test_results_larger_than_the_bound_are_refused(monkeypatch):
    monkeypatch.setattr(runs, "MAX_RESULT_BYTES", 1000)
    big = {"http": {"headers": {"x": "v" * 2000}}, "tls": {"protocols": {}}}
    addresses, facts = runs.decode_result(runs.encode_result(["127.0.0.1"], big))
    assert addresses == ["127.0.0.1"] and set(facts) == {"http", "tls"}
    assert facts["http"]["error"].startswith("the facts collected (") and "exceed the 1000 bytes" in facts["http"]["error"]
    with pytest.raises(runs.Refused, match="exceeds the 1000 bytes"):
        runs.decode_result(json.dumps({"addresses": [], "facts": big}))
    for junk in ('{"facts": {}}', "[1]", '{"addresses": "x", "facts": {}}', 42):
        with pytest.raises(runs.Refused, match="result"):
            runs.decode_result(junk)


def test_a_run_travels_whole_and_a_worker_refuses_one_of_another_version_or_probe_table(tmp_path):
    import ipaddress

    scope, addresses = Scope({"a.gent.test"}, ("stad.gent.test",), {"weg.gent.test"}), AddressPolicy(
        (ipaddress.ip_network("10.1.0.0/16"),), frozenset({"loopback"}), frozenset({"127.0.0.10"}))
    bundle = tmp_path / "lab-ca.pem"
    bundle.write_text("PEM", encoding="utf-8")
    sent = runs.RunContext.of_run("r1", "0.1.0", ["dns"], "2026-01-01T00:00:00Z",
                                  {k: None for k in runs.SHIPPED_OPTIONS}, scope, addresses, bundle, [])
    got = runs.RunContext(**json.loads(json.dumps(dataclasses.asdict(sent))))
    assert got.scope_of_run() == scope and got.addresses_of_run() == addresses
    assert got.ca_bundle == ["lab-ca.pem", "PEM"]  # facts name the trust store by its file name

    context = runs.RunContext.of_run("r1", "0.1.0", ["dns", "tls"], "2026-01-01T00:00:00Z",
                                     {k: None for k in runs.SHIPPED_OPTIONS}, Scope(), AddressPolicy(), None, [])
    assert context.refusal("0.1.0", ["dns", "tls"]) is None
    assert "Bolwerk 0.2.0" in context.refusal("0.2.0", ["dns", "tls"])
    assert "probes dns, tls, agency" in context.refusal("0.1.0", ["dns", "tls", "agency"])


def test_engine_celery_input_errors_are_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("BOLWERK_BROKER", raising=False)
    inventory = tmp_path / "inv.txt"
    inventory.write_text("https://a.test/\n", encoding="utf-8")
    for extra, message in ([[], "name the Redis broker"], [["--broker", "amqp://x/"], "expected redis://"]):
        result = CliRunner().invoke(main, ["scan", str(inventory), "--engine", "celery", *extra])
        assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["worker"], env={"BOLWERK_BROKER": "http://x"})
    assert result.exit_code == 2 and "expected redis://" in result.output


def test_a_host_of_a_service_that_opted_out_is_never_contacted(tmp_path):
    from scanner.inventory import load_inventory
    from scanner.runner import build_scope

    inventory = tmp_path / "inv.toml"
    inventory.write_text('exclude = ["optout.gent.test"]\nscope = ["gent.test"]\n'
                         '[[service]]\nid = "a"\nurls = ["https://www.gent.test/"]\n'
                         '[[service]]\nid = "b"\nurls = ["https://optout.gent.test/"]\n', encoding="utf-8")
    scope = build_scope(load_inventory(inventory), ())
    assert scope.allows("www.gent.test") and scope.allows("other.gent.test")
    assert not scope.allows("optout.gent.test")  # under the --scope suffix, and still never




# --------------------------------------------------------------------------- the deployment example


def test_the_systemd_example_runs_commands_bolwerk_takes():
    import shlex

    units = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
    assert {u.name for u in units} == {"bolwerk-scan.service", "bolwerk-worker@.service"}
    for unit in units:
        line = next(x for x in unit.read_text(encoding="utf-8").splitlines() if x.startswith("ExecStart="))
        program, name, *args = shlex.split(line.removeprefix("ExecStart=").replace("%i", "gent").replace("%H", "h"))
        assert program.endswith("/bolwerk")
        command = main.get_command(None, name)
        command.make_context(name, list(args))  # unknown options or bad values raise here
        if name == "scan":
            assert args[args.index("--engine") + 1] == "celery"
    timer = (ROOT / "deploy" / "systemd" / "bolwerk-scan.timer").read_text(encoding="utf-8")
    assert "OnCalendar=" in timer and "Persistent=true" in timer


@needs_redis
def test_the_example_broker_configuration_takes_only_its_user(tmp_path):
    port = free_port()
    proc = subprocess.Popen([redis_server(), str(ROOT / "deploy" / "redis-bolwerk.conf"), "--port", str(port),
                             "--dir", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ours = redis.Redis(port=port, username="bolwerk", password="CHANGE-ME")
        when(lambda: _answers(ours), timeout=10)
        assert ours.eval("return 1", 0) == 1  # the politeness scripts run
        with pytest.raises(redis.exceptions.NoPermissionError):
            ours.keys("*")  # dangerous commands are not the broker's to run
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(port=port).ping()  # no anonymous access
        ours.close()
    finally:
        proc.terminate()
        proc.wait(10)


def _answers(client) -> bool:
    try:
        return client.ping()
    except redis.exceptions.ConnectionError:
        return False
