"""The terminal as users of sslyze and testssl expect it: targets on the command line, a table
worst first, --quiet, no colour when asked, help on every option, the run to resume after Ctrl-C,
and every output flag of every command writing to stdout with `-`."""

from __future__ import annotations

import io
import shutil

import click
import pytest
from click.testing import CliRunner

import scanner.cli
from reports.common import repo_path
from scanner.cli import main
from scanner.console import plural, print_table, use_colour
from tests.test_cli_outputs import parse

FORMATS = ("json", "ndjson", "sarif", "junit", "csv", "markdown")
BASE = "bolwerk-baseline@2026.11"
TARGET = "https://onderwijs.vlaanderen.test/"


def run(*args: str, **kw):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, **kw)


def test_every_option_of_every_command_has_a_help_text():
    missing = [f"{name} {param.opts[0]}" for name, cmd in main.commands.items() for param in cmd.params
               if isinstance(param, click.Option) and not param.hidden and not param.help]
    assert missing == []


def test_scan_a_url_prints_the_table_worst_first(lab_args, tmp_path):
    res = run("scan", TARGET, "https://belastingen.vlaanderen.test/", "--db", str(tmp_path / "h.db"), *lab_args)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["Grade", "Score", "Service", "Why", "this", "grade"]
    rows = {line.split()[2]: (line.split()[0], line) for line in lines[1:]}
    assert list(rows) == ["onderwijs-vlaanderen-test", "belastingen-vlaanderen-test"]  # C before B: worst first
    assert rows["onderwijs-vlaanderen-test"][0] == "C" and rows["belastingen-vlaanderen-test"][0] == "B"
    assert rows["belastingen-vlaanderen-test"][1].endswith("TLS 1.0 or 1.1 offered")
    assert "\x1b[" not in res.stdout  # not a terminal: no colour
    assert ": 2 services, 2 endpoints in " in res.stderr


def test_scan_table_in_dutch_with_findings_by_severity(lab_args, tmp_path):
    res = run("scan", "https://belastingen.vlaanderen.test/", "--db", str(tmp_path / "h.db"), *lab_args,
              "--lang", "nl", "--severity", "high")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].split()[:3] == ["Rapport", "Score", "Dienst"] and "TLS 1.0 of 1.1 aangeboden" in lines[1]
    listed = [line.split() for line in lines[2:]]
    assert listed and all(row[0] in ("fail", "warn", "error") and row[1] in ("critical", "high") for row in listed)
    assert any(row[2] == "tls.protocol.tls10" for row in listed)


def test_scan_table_is_not_printed_when_an_output_takes_stdout(lab_args, tmp_path):
    res = run("scan", TARGET, "--db", str(tmp_path / "h.db"), *lab_args, "--csv", "-")
    assert res.exit_code == 0, res.output
    assert parse("csv", res.stdout) and len(res.stdout.splitlines()) > 2
    assert "Grade" not in res.stdout


def test_colour_only_on_a_terminal_and_never_when_asked_not_to(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour(False, Terminal()) and not use_colour(False, io.StringIO())
    assert not use_colour(True, Terminal())  # --no-color
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour(False, Terminal())
    result = {"services": [{"id": "x", "grade": "F", "score": 10.0, "caps_detail": [
        {"grade": "F", "reason": {"en": "no HTTPS", "nl": "geen HTTPS"}, "checks": [], "targets": []}]}]}

    def shown(colour: bool) -> str:
        out = CliRunner().invoke(click.command()(lambda: print_table(result, "en", colour)), [], color=True)
        return out.stdout

    assert "\x1b[31m" in shown(True) and "\x1b[" not in shown(False)
    assert "no HTTPS" in shown(False)


def test_plural():
    assert (plural(1, "service"), plural(0, "service"), plural(2, "endpoint")) == ("1 service", "0 services",
                                                                                  "2 endpoints")


def test_ctrl_c_names_the_run_to_resume(lab_args, tmp_path, monkeypatch):
    def interrupt(done, total, label):
        raise KeyboardInterrupt

    monkeypatch.setattr(scanner.cli, "stderr_progress", lambda: interrupt)
    res = run("scan", TARGET, "https://belastingen.vlaanderen.test/", "--db", str(tmp_path / "h.db"), *lab_args,
              "--workers", "1", "--concurrency", "1")
    assert res.exit_code == 130
    said = res.stderr.strip().splitlines()[-1]
    run_id = said.split("run ")[1].split()[0]
    assert said == (f"bolwerk: interrupted: run {run_id} is kept as incomplete; run the same command with "
                    f"--resume {run_id} to finish it")
    monkeypatch.undo()
    resumed = run("scan", TARGET, "https://belastingen.vlaanderen.test/", "--db", str(tmp_path / "h.db"),
                  *lab_args, "--resume", run_id, "--quiet")
    assert resumed.exit_code == 0, resumed.output


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_output_of_scan_goes_to_stdout_with_a_dash(lab_args, tmp_path, fmt, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run("scan", TARGET, "--db", "h.db", *lab_args, f"--{fmt}", "-")
    assert res.exit_code == 0, res.output
    assert parse(fmt, res.stdout) and not (tmp_path / "-").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_output_of_rescore_goes_to_stdout_with_a_dash(lab_scan, tmp_path, fmt, monkeypatch):
    _, db, run_id = lab_scan
    shutil.copy(db, tmp_path / "h.db")
    monkeypatch.chdir(tmp_path)
    res = run("rescore", run_id, "--policy", "ncsc-tls-2025@2026.11", "--db", "h.db", f"--{fmt}", "-")
    assert res.exit_code == 0, res.output
    assert parse(fmt, res.stdout) and not (tmp_path / "-").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_output_of_gate_goes_to_stdout_with_a_dash(lab_args, tmp_path, fmt, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = run("gate", "https://api.vdab.test/", "--policy", BASE, *lab_args, f"--{fmt}", "-")
    assert res.exit_code == 0, res.output
    assert parse(fmt, res.stdout) and not (tmp_path / "-").exists()
    assert res.stderr.splitlines()[-1].startswith("bolwerk: gate: PASS")


def test_two_outputs_on_stdout_are_refused_by_every_command(tmp_path):
    for args in (["scan", TARGET], ["gate", TARGET], ["rescore", "latest", "--policy", BASE], ["report"]):
        res = run(*args, "--db", str(tmp_path / "none.db"), "--sarif", "-", "--junit", "-")
        assert res.exit_code == 2 and "only one output can go to stdout" in res.output, args


def test_repo_paths_are_relative_to_the_repository_root(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "ci").mkdir()
    monkeypatch.chdir(repo / "ci")  # run from a subfolder of the checkout
    assert repo_path("bolwerk.toml") == "ci/bolwerk.toml"
    assert repo_path(str(repo / "ci" / "bolwerk.toml")) == "ci/bolwerk.toml"
    monkeypatch.chdir(tmp_path)
    assert repo_path(str(tmp_path / "elsewhere" / "x.toml")) == "elsewhere/x.toml"  # no repository: the cwd
