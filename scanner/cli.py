"""The `bolwerk` command line.

Results go to files or stdout, progress and logs to stderr. Exit codes: 0 ran (and
passed), 1 policy failed, 2 usage or input error (one line, no traceback), 3 could not scan.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from checks.registry import default_registry
from reports.html import LANGS
from reports.outputs import Outputs, write_outputs, write_run
from scanner import __version__
from scanner.console import (
    SEVERITIES,
    plural,
    print_table,
    print_verdict,
    stderr_progress,
    summary_line,
    use_colour,
)
from scanner.distributed import DEFAULT_QUEUE, VISIBILITY_TIMEOUT
from scanner.exit_codes import EXIT_INPUT, EXIT_INTERRUPTED, EXIT_OK, EXIT_POLICY, EXIT_UNSCANNED
from scanner.gate import unreached_cause
from scanner.inputfiles import PORT_MAP_LIMIT, check_writable_folder, read_bytes
from scanner.inventory import Inventory, inventory_from_arguments, load_inventory
from scanner.judge import rescore, stored_policy
from scanner.lock import StoreLock
from scanner.model import MESSAGE_LIMIT, InputError, one_line
from scanner.notify import PASSWORD_ENV, WHEN, NotifySettings, send_notifications
from scanner.policy import GRADES, Policy, load_policy
from scanner.probes.net import PortMap
from scanner.runner import CollectionFailed, Runner, ScanOptions, default_workers
from scanner.store import Store, default_db_path


def fail_input(message: str) -> None:
    click.echo(f"bolwerk: error: {message}", err=True)
    sys.exit(EXIT_INPUT)


def input_errors(func):
    """Every InputError becomes one line on stderr and exit code 2."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except InputError as exc:
            fail_input(str(exc))

    return wrapper


def network_options(func):
    opts = [
        click.option("--policy", "policy", default=None, help="Policy name[@version] or a .toml file."),
        click.option("--concurrency", type=click.IntRange(1, 1000), default=16, show_default=True,
                     help="Endpoints in flight at once (in each worker process)."),
        click.option("--workers", type=click.IntRange(1, 256), default=None,
                     help="Worker processes that collect and judge; endpoints sharing an address stay in one. "
                          "[default: the number of cores]"),
        click.option("--per-host", type=click.IntRange(1, 64), default=2, show_default=True,
                     help="Connections open at once to one host name."),
        click.option("--per-ip", type=click.IntRange(1, 256), default=4, show_default=True,
                     help="Connections open at once to one IP address."),
        click.option("--rate", type=click.FloatRange(0.1, 10000), default=20.0, show_default=True,
                     help="New connections per second to one IP address."),
        click.option("--timeout", type=click.FloatRange(1, 3600), default=60.0, show_default=True,
                     help="Overall deadline in seconds for one probe of one target."),
        click.option("--io-timeout", type=click.FloatRange(0.5, 300), default=5.0, show_default=True,
                     help="Deadline in seconds for one connect, read or handshake."),
        click.option("--resolver", default=None, metavar="IP[:PORT]", help="DNS resolver (default: the system's)."),
        click.option("--ca-bundle", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="PEM roots to trust instead of certifi's Mozilla store."),
        click.option("--trust-anchor", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
                     help="Extra DNSSEC trust anchors (zone-file DS/DNSKEY lines); repeatable."),
        click.option("--trust-resolver-ad", is_flag=True, default=False,
                     help="Trust the AD bit of the --resolver (a validating resolver on a trusted path): "
                          "answers it marks authenticated count as DNSSEC-secure without Bolwerk's own chain walk."),
        click.option("--scope", "scope", multiple=True, metavar="SUFFIX",
                     help="Also allow hosts under this domain suffix; repeatable."),
        click.option("--allow-network", "allow_networks", multiple=True, metavar="CIDR",
                     help="A private network (RFC 1918, RFC 6598, ULA) the scan may contact; repeatable. "
                          "Without it, private addresses are refused whatever led to them."),
        click.option("--audit-log", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Append every connection attempt to this file (JSON lines)."),
        # Testing and demo aid, hidden from --help: the lab's servers listen on free ports and
        # the scanner reaches them through a port map (logical 443/80/25 -> real port) that is
        # only known to the process running the lab. This reads one written by
        # `PortMap.to_json()` (JSON list of [ip, logical port, real port]), so the tests can run
        # `bolwerk gate` in-process against the lab. Real scans never need it.
        click.option("--lab-port-map", "lab_port_map", type=click.Path(dir_okay=False, path_type=Path),
                     default=None, hidden=True),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def scan_options(kw: dict[str, Any]) -> ScanOptions:
    """The network flags as ScanOptions, every file and value among them checked before any scan."""
    options = ScanOptions(
        concurrency=kw["concurrency"], per_host=kw["per_host"], per_ip=kw["per_ip"], rate_per_ip=kw["rate"],
        timeout=kw["timeout"], io_timeout=kw["io_timeout"], resolver=kw["resolver"], ca_bundle=kw["ca_bundle"],
        trust_anchors=list(kw["trust_anchor"]), trust_resolver_ad=kw["trust_resolver_ad"], scope=tuple(kw["scope"]),
        allow_networks=tuple(kw["allow_networks"]), audit_log=kw["audit_log"],
        port_map=read_port_map(kw.get("lab_port_map")), workers=kw["workers"] or default_workers())
    options.validate()
    return options


def read_port_map(path: Path | None) -> PortMap | None:
    """The lab's port map from a file (see the hidden --lab-port-map option)."""
    if path is None:
        return None
    raw = read_bytes(path, "port map", PORT_MAP_LIMIT)
    try:
        return PortMap.from_json(json.loads(raw))
    except (ValueError, TypeError, RecursionError) as exc:
        raise InputError(str(path), f"not a port map (JSON list of [ip, port, real port]): {exc}") from None


def notify_options(func):
    """Notification of what changed after a run (scanner/notify.py), read with `notify_settings(kw)`."""
    opts = [
        click.option("--notify-webhook", "webhooks", multiple=True, metavar="URL",
                     help="POST what changed since the previous run (JSON, as `bolwerk diff --json`) here; "
                          "repeatable."),
        click.option("--notify-email", "mail_to", multiple=True, metavar="ADDRESS",
                     help="E-mail what changed to this address through the --smtp relay; repeatable."),
        click.option("--notify-on", type=click.Choice(WHEN), default="changes", show_default=True,
                     help="When to notify: a service regressed or improved, only regressions, or every run."),
        click.option("--smtp", default=None, metavar="HOST[:PORT]", help="The SMTP relay for --notify-email."),
        click.option("--smtp-from", default="bolwerk@localhost", show_default=True, metavar="ADDRESS",
                     help="The sender of the notification e-mails."),
        click.option("--smtp-starttls", is_flag=True, help="Require STARTTLS with the relay (verified against "
                                                           "--ca-bundle, else the system's roots)."),
        click.option("--smtp-user", default=None, metavar="USER",
                     help=f"Log in to the relay; the password comes from ${PASSWORD_ENV}."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def notify_settings(kw: dict[str, Any], ca_bundle: Path | None, lang: str) -> NotifySettings:
    settings = NotifySettings(
        webhooks=list(kw.pop("webhooks")), mail_to=list(kw.pop("mail_to")), on=kw.pop("notify_on"),
        smtp=kw.pop("smtp"), mail_from=kw.pop("smtp_from"), starttls=kw.pop("smtp_starttls"),
        smtp_user=kw.pop("smtp_user"), lang=lang, ca_bundle=ca_bundle)
    settings.validate()
    return settings


def file_option(*names: str, help: str):
    return click.option(*names, type=click.Path(dir_okay=False, path_type=Path), default=None, help=help)


OUTPUT_FILES = (  # (option, format, what it writes)
    ("--json", "json", "the JSON result (contract v1; from `gate`, with its verdict under \"gate\")"),
    ("--ndjson", "ndjson", "one finding per line (for SIEMs)"),
    ("--sarif", "sarif", "SARIF 2.1.0 for code scanning"),
    ("--junit", "junit", "JUnit XML (a test case per check and endpoint)"),
    ("--csv", "csv", "one CSV row per finding"),
    ("--markdown", "markdown", "a Markdown summary for a merge-request comment"),
)


def output_options(folder: bool = True):
    """The output flags, declared once for every command that writes a result: a file per
    format ('-' for stdout, one at most) and, with `folder`, --out and --lang for the dashboard.
    The command reads them with `outputs_of(kw)`."""
    opts = [file_option(flag, fmt, help=f"Write {what} to FILE ('-' for stdout).")
            for flag, fmt, what in OUTPUT_FILES]
    opts.append(click.option("--sarif-category", default=None, metavar="ID",
                             help="Name the SARIF analysis (runAutomationDetails.id); by default the uploader "
                                  "names it (GitHub: the upload's category)."))
    if folder:
        opts += [click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
                              help="Write results.json and the dashboard here (the dashboard is replaced whole)."),
                 click.option("--lang", type=click.Choice(LANGS), default="nl", show_default=True,
                              help="Primary language of the dashboard."),
                 click.option("--banner", default=None, metavar="TEXT",
                              help="A classification shown on every page of the dashboard, e.g. \"TLP:AMBER\".")]

    def decorate(func):
        for opt in reversed(opts):
            func = opt(func)
        return func

    return decorate


def outputs_of(kw: dict[str, Any]) -> Outputs:
    """The outputs asked for, taken out of a command's keyword arguments (see output_options)."""
    files = {fmt: kw.pop(fmt) for _, fmt, _ in OUTPUT_FILES}
    category = kw.pop("sarif_category")
    return Outputs({fmt: path for fmt, path in files.items() if path is not None}, kw.pop("out", None),
                   kw.pop("lang", "nl"), kw.pop("banner", None), default_workers(),
                   {"sarif": {"category": category}} if category else {})


broker_option = click.option(
    "--broker", envvar="BOLWERK_BROKER", show_envvar=True, default=None, metavar="URL",
    help="With --engine celery, and for workers: the Redis broker, redis://USER:PASSWORD@HOST:PORT/DB.")


def distributed(module: str) -> Any:
    """A module of scanner.distributed, which needs the optional `celery` extra."""
    try:
        return importlib.import_module(f"scanner.distributed.{module}")
    except ImportError as exc:
        raise InputError("--engine celery", f"needs Celery and Redis: pip install 'bolwerk[celery]' ({exc})") from None


def checked_broker(url: str | None) -> str:
    return distributed("app").broker_url(url)


def console_options(func):
    """How much the terminal shows: --quiet, --no-color and (for the grade table) --severity."""
    opts = [
        click.option("--quiet", "-q", is_flag=True, default=False,
                     help="Print only errors and the reason for a failing exit code: no table, no summary line."),
        click.option("--no-color", "no_color", is_flag=True, default=False,
                     help="No colours (also when NO_COLOR is set; colours appear only on a terminal anyway)."),
        click.option("--severity", type=click.Choice(SEVERITIES), default=None,
                     help="Under each service in the table, list its problems (fail, warn, error) of this "
                          "severity or worse."),
    ]
    for opt in reversed(opts):
        func = opt(func)
    return func


def table_language(ctx: click.Context, lang: str) -> str:
    """The grade table is English unless --lang was given on the command line (its default serves
    the dashboard)."""
    explicit = ctx.get_parameter_source("lang") == click.core.ParameterSource.COMMANDLINE
    return lang if explicit else "en"


class _OneLineUsageError(click.ClickException):
    exit_code = EXIT_INPUT

    def show(self, file: Any = None) -> None:
        click.echo(f"bolwerk: error: {self.format_message()}", err=True)


@contextlib.contextmanager
def _one_line_usage_errors():
    """Click's own usage errors (a bad flag value, a missing argument) as every other input
    error: one line on stderr, exit code 2. Asking for help still shows the help."""
    try:
        yield
    except click.UsageError as exc:
        if exc.ctx is None or isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):
            raise
        message = one_line(exc.format_message(), MESSAGE_LIMIT).rstrip(".")
        raise _OneLineUsageError(f"{message} (see `{exc.ctx.command_path} --help`)") from None


class _Commands(click.Group):
    def make_context(self, *args: Any, **kwargs: Any) -> click.Context:
        with _one_line_usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        with _one_line_usage_errors():
            return super().invoke(ctx)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100,
                                              "auto_envvar_prefix": "BOLWERK"})  # --resolver of gate: BOLWERK_GATE_RESOLVER
@click.version_option(__version__, prog_name="bolwerk")
def main() -> None:
    """Bolwerk: security posture of government services (TLS, certificates, HTTP, DNS, mail)."""


# --------------------------------------------------------------------------- the scan path

@dataclass
class Scanned:
    store: Store  # open, and locked: the caller writes its outputs, then closes it
    run_id: str
    seconds: float
    policy: Policy  # the policy the run was judged under
    lock: StoreLock

    def close(self) -> None:
        self.store.close()
        self.lock.release()


def run_scan(inventory: Inventory, options: ScanOptions, policy_ref: str | None, db: Path, resume: str | None = None,
             interrupted: str = "interrupted: run {run} is kept as incomplete; run the same command with "
                                "--resume {run} to finish it",
             command: str = "scan", engine: Callable[..., Runner] = Runner) -> Scanned:
    """The scan path of every command that scans: collect, judge and store one run (`interrupted`
    is what Ctrl-C prints, with {run} the run's id; `engine`: the Runner, or another that
    collects elsewhere), the store locked for this process alone (scanner/lock.py) until the
    caller closes it."""
    registry = default_registry()
    # --resume without --policy: the policy the run started under, as the run stored it
    policy = load_policy(policy_ref, registry) if policy_ref or not resume else None
    lock = StoreLock(db, command).acquire()
    try:
        store = Store(db)
    except BaseException:
        lock.release()
        raise
    runner = None
    try:
        if policy is None:
            run = store.run(store.resolve_run(resume))
            policy = stored_policy(run, registry) or load_policy(run["policy"], registry)
        started = time.monotonic()
        runner = engine(options, registry, policy, store, progress=stderr_progress())
        run_id = runner.scan(inventory, resume=resume)
    except KeyboardInterrupt:
        store.close()
        lock.release()
        run_id = runner.run_id if runner else None
        click.echo(f"\nbolwerk: {interrupted.format(run=run_id or 'not started')}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except CollectionFailed as exc:
        store.close()
        lock.release()
        click.echo(f"bolwerk: {exc}", err=True)
        sys.exit(EXIT_UNSCANNED)
    except BaseException:
        store.close()
        lock.release()
        raise
    return Scanned(store, run_id, time.monotonic() - started, policy, lock)


# --------------------------------------------------------------------------- commands

@main.command()
@click.argument("targets", nargs=-1, required=True, metavar="INVENTORY | URL...")
@network_options
@click.option("--db", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"SQLite history (default: {default_db_path()}).")
@output_options()
@console_options
@click.option("--resume", default=None, metavar="RUN",
              help="Continue an interrupted run, under the policy it started with.")
@click.option("--keep", type=click.IntRange(1, None), default=None, metavar="N",
              help="After the run, delete every run of the history but the newest N.")
@notify_options
@click.option("--engine", type=click.Choice(["local", "celery"]), default="local", show_default=True,
              help="Collect in this process (and its --workers), or by Celery workers (`bolwerk worker`).")
@broker_option
@click.option("--queue", default=DEFAULT_QUEUE, show_default=True,
              help="With --engine celery: the queue the tasks go to (a vantage point's workers listen on it).")
@click.pass_context
@input_errors
def scan(ctx: click.Context, targets: tuple[str, ...], db: Path | None, resume: str | None, keep: int | None,
         quiet: bool, no_color: bool, severity: str | None, engine: str, broker: str | None, queue: str,
         **kw: Any) -> None:
    """Scan an INVENTORY (TOML, CSV or a list of URLs) or the URLs and host names given.

    Prints the services worst first (grade, score, why the grade is capped) on stdout unless
    an output goes there; the summary and progress go to stderr.
    """
    inv = inventory_from_arguments(list(targets))
    options = scan_options(kw)
    lang = table_language(ctx, kw["lang"])
    outputs = outputs_of(kw)
    notify = notify_settings(kw, options.ca_bundle, outputs.lang)
    runner: Callable[..., Runner] = Runner
    if engine == "celery":
        runner = functools.partial(distributed("coordinator").CeleryRunner, broker=checked_broker(broker),
                                   queue=queue)
    scanned = run_scan(inv, options, kw["policy"], db or default_db_path(), resume, engine=runner)
    if keep:
        dropped = scanned.store.keep_newest(keep, scanned.run_id)
        if dropped:
            click.echo(f"bolwerk: --keep {keep}: deleted {len(dropped)} older runs", err=True)
    result = write_run(scanned.store, scanned.run_id, outputs)
    if not quiet:
        if not outputs.to_stdout:
            print_table(result, lang, use_colour(no_color), severity)
        click.echo(summary_line(result, scanned.seconds), err=True)
        if outputs.out:
            click.echo(f"bolwerk: dashboard: {outputs.out / 'dashboard' / 'index.html'}", err=True)
    if notify:
        for line in send_notifications(scanned.store, scanned.run_id, notify):
            click.echo(f"bolwerk: {line}", err=True)
    cause = unreached_cause(result)
    scanned.close()
    if cause:
        click.echo(f"bolwerk: could not scan: {cause}", err=True)
    sys.exit(EXIT_UNSCANNED if cause else EXIT_OK)


@main.command()
@broker_option
@click.option("--queue", "queues", multiple=True, default=[DEFAULT_QUEUE], show_default=True,
              help="Take tasks from this queue (one per vantage point); repeatable.")
@click.option("--concurrency", type=click.IntRange(1, 1000), default=16, show_default=True,
              help="Units of work in flight at once in this worker.")
@click.option("--audit-log", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Append every connection attempt to this file (JSON lines, each with its run id).")
@click.option("--visibility-timeout", type=click.FloatRange(5, 86400), default=VISIBILITY_TIMEOUT, show_default=True,
              help="Seconds before a task taken by a worker that vanished is handed to another; "
                   "longer than any unit takes (every probe's --timeout).")
@click.option("--name", default=None, help="This worker's node name (default: celery@HOSTNAME).")
@input_errors
def worker(broker: str | None, queues: tuple[str, ...], concurrency: int, audit_log: Path | None,
           visibility_timeout: float, name: str | None) -> None:
    """Collect units of work for `bolwerk scan --engine celery`, until stopped (SIGTERM, Ctrl-C)."""
    run_worker = distributed("worker").run_worker
    sys.exit(run_worker(checked_broker(broker), queues, concurrency, audit_log, visibility_timeout, name))


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("bolwerk-demo"),
              show_default=True, help="Where to write results.json, the history and the dashboard.")
@click.option("--lang", type=click.Choice(LANGS), default="nl", show_default=True,
              help="Primary language of the dashboard (and, when given, of the table).")
@click.option("--later", is_flag=True,
              help="Start the lab as it stands a week later (a few services changed): run the demo again "
                   "into the same --out to see a trend, a regression and each problem's age.")
@console_options
@click.pass_context
@input_errors
def demo(ctx: click.Context, out: Path, lang: str, later: bool, quiet: bool, no_color: bool,
         severity: str | None) -> None:
    """Start the embedded lab estate, scan it end to end and write the dashboard."""
    from scanner.lab import Lab

    check_writable_folder(out, "--out")
    click.echo("bolwerk: starting the lab estate on loopback...", err=True)
    with Lab(later=later) as info:
        options = ScanOptions(resolver=info.resolver, ca_bundle=info.ca_bundle, trust_anchors=[info.trust_anchor],
                              port_map=info.port_map, rate_per_ip=200.0, io_timeout=3.0, timeout=30.0)
        out.mkdir(parents=True, exist_ok=True)
        db = out / "history.db"
        scanned = run_scan(load_inventory(info.inventory), options, None, db, command="demo")
        result = write_run(scanned.store, scanned.run_id, Outputs(out=out, lang=lang, workers=default_workers()))
        if not quiet:
            print_table(result, table_language(ctx, lang), use_colour(no_color), severity)
            click.echo("")
            click.echo(summary_line(result, scanned.seconds))
        scanned.close()
    if quiet:
        return
    click.echo(f"Results:   {out / 'results.json'}")
    click.echo(f"History:   {db}")
    click.echo(f"Dashboard: {(out / 'dashboard' / 'index.html').resolve()}  (open it in a browser)")


@main.command()
@file_option("--db", help=f"The SQLite history to read (default: {default_db_path()}).")
@click.option("--run", "run_ref", default=None, metavar="ID", help="Run id or prefix (default: the latest).")
@output_options()
@input_errors
def report(db: Path | None, run_ref: str | None, **kw: Any) -> None:
    """Write the reports of a stored run (no network), under the policy it was judged under."""
    outputs = outputs_of(kw)
    if not outputs:
        outputs.out = Path("bolwerk-report")
    store = _existing_store(db)
    run_id = store.resolve_run(run_ref)
    write_run(store, run_id, outputs)
    store.close()
    click.echo(f"bolwerk: reports of run {run_id} written" + (f" to {outputs.out}" if outputs.out else ""), err=True)


@main.command("rescore")
@click.argument("run_ref", metavar="RUN")
@click.option("--policy", required=True, help="Policy name@version or a .toml file.")
@file_option("--db", help="The history holding RUN.")
@output_options()
@input_errors
def rescore_cmd(run_ref: str, policy: str, db: Path | None, **kw: Any) -> None:
    """Re-judge the stored facts of RUN under another policy, as a new run, without touching the network.

    Prints the new run's id on stdout (on stderr when an output goes to stdout); compare
    grades with `bolwerk diff`.
    """
    registry = default_registry()
    pol = load_policy(policy, registry)
    outputs = outputs_of(kw)
    with StoreLock(db or default_db_path(), "rescore"):
        store = _existing_store(db)
        new_id = rescore(store, run_ref, registry, pol)
        result = write_run(store, new_id, outputs)
        click.echo(summary_line(result, 0.0), err=True)
        store.close()
    click.echo(new_id, err=outputs.to_stdout)


@main.command()
@click.argument("run_a")
@click.argument("run_b")
@file_option("--db", help=f"The SQLite history to read (default: {default_db_path()}).")
@click.option("--json", "as_json", is_flag=True, help="Write the diff as one JSON document (bolwerk/diff/v1).")
@input_errors
def diff(run_a: str, run_b: str, db: Path | None, as_json: bool) -> None:
    """What changed from RUN_A (before) to RUN_B (after) (ids, prefixes or "latest"): grades, new,
    fixed and no longer judged findings.

    \b
    Exit codes: 0 no service regressed, 1 at least one regressed (its grade fell, or a
    check now fails that did not), 2 bad input.
    """
    from reports.diff import diff_lines, diff_runs

    store = _existing_store(db)
    first, second = store.resolve_run(run_a), store.resolve_run(run_b)
    changes = diff_runs(store, first, second)
    store.close()
    if not changes.same_policy:
        click.echo(f"bolwerk: note: the runs were judged under different policies ({changes.policies[0]} vs "
                   f"{changes.policies[1]}); rescore one to compare like with like", err=True)
    if as_json:
        click.echo(json.dumps(changes.to_json(), indent=2, sort_keys=True, ensure_ascii=False))
    else:
        lines = diff_lines(changes)
        click.echo(f"changes from {first} to {second}: " + (plural(len(changes.services), "service") if lines else "none"))
        for line in lines:
            click.echo(line)
    sys.exit(EXIT_POLICY if changes.regressed else EXIT_OK)


@main.command()
@file_option("--db", help=f"The SQLite history to read (default: {default_db_path()}).")
@click.option("--limit", type=click.IntRange(1, 10000), default=20, show_default=True,
              help="How many runs to list.")
@input_errors
def runs(db: Path | None, limit: int) -> None:
    """List stored runs, newest first: id, start, state, policy."""
    store = _existing_store(db)
    rows = [("run", "started", "state", "policy")]
    for r in store.runs(limit):
        state = "complete" if r["complete"] else ("running/interrupted" if not r["finished"] else "incomplete")
        extra = f" (rescored from {r['rescored_from']})" if r["rescored_from"] else ""
        rows.append((r["id"], r["started"], state, r["policy"] + extra))
    store.close()
    for line in columns(rows):
        click.echo(line)


def columns(rows: list[tuple[str, ...]]) -> list[str]:
    """Rows as aligned text columns, the first row a header (the last column is not padded)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return ["  ".join([*(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1]]).rstrip()
            for row in rows]


@main.command()
@click.option("--lang", type=click.Choice(LANGS), default="en", show_default=True,
              help="Language of the titles.")
@click.option("--thresholds", is_flag=True, help="List the policy thresholds the checks read, with defaults.")
def checks(lang: str, thresholds: bool) -> None:
    """List the registered checks: id, pillar, level, title."""
    registry = default_registry()
    if thresholds:
        click.echo("# threshold = default (set in a policy's [thresholds])")
        for name, value in sorted(registry.thresholds().items()):
            click.echo(f"{name} = {value!r}")
        return
    rows = [("check", "pillar", "level", "title")]
    rows += [(chk.id, chk.pillar, str(chk.level), chk.describe(lang)) for chk in registry]
    for line in columns(rows):
        click.echo(line)


@main.command()
@input_errors
def lab() -> None:
    """Run the lab estate on loopback until interrupted, to scan it by hand."""
    import signal

    from scanner.lab import Lab

    def stop(signum, frame):  # SIGTERM stops the lab as cleanly as Ctrl-C
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with Lab() as info:
        port_map = info.directory / "port-map.json"
        port_map.write_text(json.dumps(info.port_map.to_json()), encoding="utf-8")
        click.echo(f"Lab running. Inventory: {info.inventory} (every lab service: {info.inventory_all})")
        click.echo(f"Scan it with:\n  bolwerk scan {info.inventory} --resolver {info.resolver} "
                   f"--ca-bundle {info.ca_bundle} --trust-anchor {info.trust_anchor} --lab-port-map {port_map} "
                   "--rate 200 --db /tmp/bolwerk-lab.db --out /tmp/bolwerk-lab")
        click.echo("Press Ctrl-C to stop.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


@main.command()
@click.argument("targets", nargs=-1, required=True)
@network_options
@click.option("--min-grade", type=click.Choice(GRADES), default="B", show_default=True,
              help="Lowest grade that passes (F: any grade passes, so only --fail-on decides).")
@click.option("--fail-on", type=click.Choice(["required", "recommended"]), default=None,
              help="Also fail when any finding of this level (or stricter) fails.  [default: recommended "
                   "with --baseline, else only the grade decides]")
@file_option("--baseline", help="An earlier result (from --json): only findings new since then fail the gate "
                             "(a ratchet).")
@output_options(folder=False)
@file_option("--db", help="Keep the run in this history (default: a temporary one).")
@click.option("--quiet", "-q", is_flag=True, default=False,
              help="Print only the verdict's reason line (and notes): no summary, no per-service lines.")
@input_errors
def gate(targets: tuple[str, ...], min_grade: str, fail_on: str | None, baseline: Path | None, db: Path | None,
         quiet: bool, **kw: Any) -> None:
    """Scan TARGET URLs (or one small inventory file) and pass or fail them against the policy.

    \b
    Exit codes: 0 passed, 1 policy failed, 2 bad input, 3 could not scan.
    The reason for the verdict is the last line on stderr.
    """
    import tempfile
    from datetime import UTC, datetime

    from reports.json import build_result
    from scanner.gate import Baseline, decide, waiver_notes

    inv = inventory_from_arguments(list(targets))
    base = Baseline.load(baseline) if baseline else None
    outputs = outputs_of(kw)
    options = scan_options(kw)
    with tempfile.TemporaryDirectory(prefix="bolwerk-gate-") as tmp:
        scanned = run_scan(inv, options, kw["policy"], db or Path(tmp) / "gate.db",
                           interrupted="gate: interrupted; no verdict", command="gate")
        result = build_result(scanned.store, scanned.run_id)
        scanned.close()
    policy = scanned.policy
    verdict = decide(result, min_grade, fail_on, base)
    verdict.notes = waiver_notes(result, policy.waivers, datetime.now(UTC).date()) + verdict.notes
    if not policy.pinned:
        verdict.notes.append(f"the policy was not pinned and resolved to {policy.ref}; pass --policy {policy.ref} "
                             "so a new Bolwerk release cannot change this verdict")
    write_outputs(result, outputs, verdict)
    if not quiet:
        click.echo(summary_line(result, scanned.seconds), err=True)
    print_verdict(verdict, quiet)
    sys.exit(verdict.exit_code)


def _existing_store(db: Path | None) -> Store:
    path = db or default_db_path()
    if not path.exists():
        raise InputError(str(path), "no Bolwerk history here (run `bolwerk scan` first or pass --db)")
    return Store(path)


if __name__ == "__main__":
    main()
