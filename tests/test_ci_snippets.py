"""CI that runs as written: the package builds as sdist and wheel, the wheel installed into a
fresh venv runs `bolwerk demo`, and the README's GitHub Actions and GitLab CI snippets, parsed
out of README.md, run their commands against a lab target and leave the files CI platforms read.

The suite runs without a package index (a loopback-only network namespace in CI), so the
build uses the backend installed here (`--no-isolation`) and the fresh venv sees the
dependencies installed here through a folder of links to them, without this checkout's own
editable install; pip still checks the wheel's hash and that every dependency is satisfied.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SARIF_SCHEMA = json.loads((ROOT / "reports" / "schema" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
NOT_COPIED = shutil.ignore_patterns(".git", ".venv*", "__pycache__", "build", "dist", "*.egg-info", ".pytest_cache",
                                    ".ruff_cache", "bolwerk-demo", "*.db")
SERVICE = "https://mijn.vlaanderen.test/"  # sound, with a mail domain whose MX offers STARTTLS


@pytest.fixture(scope="session")
def dist(tmp_path_factory) -> dict[str, Path]:
    """`python -m build` of a copy of the checkout: the sdist, then the wheel built from it."""
    work = tmp_path_factory.mktemp("build")
    shutil.copytree(ROOT, work / "src", ignore=NOT_COPIED)
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(work / "dist"), str(work / "src")],
                   check=True, capture_output=True, timeout=300)
    built = {p.suffix: p for p in (work / "dist").iterdir()}
    return {"wheel": built[".whl"], "sdist": built[".gz"]}


def fresh_venv(folder: Path) -> Path:
    """A new venv without pip or Bolwerk that sees this venv's other packages (pip included)."""
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", str(folder)],
                   check=True, timeout=120)
    deps = folder / "deps"
    deps.mkdir()
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not re.match(r"bolwerk|__editable__|_distutils_hack|__pycache__|.*\.pth$", entry.name):
            (deps / entry.name).symlink_to(entry)
    site = subprocess.run([str(folder / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    (Path(site) / "deps.pth").write_text(f"{deps}\n", encoding="utf-8")
    return folder / "bin"


def test_the_package_builds_as_sdist_and_wheel_with_its_data(dist):
    names = zipfile.ZipFile(dist["wheel"]).namelist()
    for needed in ("scanner/policies/bolwerk-baseline-ci.toml", "checks/texts/mail.toml", "reports/i18n.toml",
                   "reports/schema/sarif-schema-2.1.0.json", "reports/templates/base.html",
                   "scanner/lab/estate.toml"):
        assert needed in names, needed
    assert any(n.endswith("entry_points.txt") for n in names)
    with tarfile.open(dist["sdist"]) as sdist:
        members = {m.name.split("/", 1)[1] for m in sdist.getmembers() if "/" in m.name}
    assert {"pyproject.toml", "README.md", "LICENSE", "scanner/cli.py"} <= members


def test_the_wheel_in_a_fresh_venv_runs_the_demo(dist, tmp_path):
    bin_ = fresh_venv(tmp_path / "venv")
    env = dict(os.environ, PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    subprocess.run([str(bin_ / "python"), "-m", "pip", "install", "-q", str(dist["wheel"])], check=True, env=env,
                   timeout=300)
    where = subprocess.run([str(bin_ / "python"), "-c", "import scanner; print(scanner.__file__)"], check=True,
                           capture_output=True, text=True, cwd=tmp_path).stdout
    assert where.startswith(str(tmp_path / "venv"))  # the wheel's code, not this checkout's
    demo = subprocess.run([str(bin_ / "bolwerk"), "demo", "--out", str(tmp_path / "demo"), "--quiet"],
                          capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    result = json.loads((tmp_path / "demo" / "results.json").read_text(encoding="utf-8"))
    assert result["services"] and (tmp_path / "demo" / "dashboard" / "index.html").exists()


# --------------------------------------------------------------------------- the README's snippets

def readme_block(heading: str) -> dict:
    """The first ```yaml block under a README heading, parsed as the CI platform parses it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n{heading}\n", 1)[1]
    return yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])


def github_steps() -> tuple[dict, list[dict]]:
    workflow = readme_block("### GitHub Actions")
    (job,) = workflow["jobs"].values()
    return workflow.get("env", {}), job["steps"]


def gitlab_job() -> dict:
    (job,) = readme_block("### GitLab CI").values()
    return job


@pytest.fixture
def runner(dist, lab, tmp_path):
    """A checkout holding bolwerk.toml (a lab service), a runner whose port 25 is blocked (the
    lab's port map without it), and the environment a snippet's commands run in."""
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "bolwerk.toml").write_text(f'[[service]]\nid = "mijn"\nname = "Mijn Vlaanderen"\nurls = ["{SERVICE}"]\n',
                                       encoding="utf-8")
    ports = tmp_path / "ports-no-smtp.json"
    ports.write_text(json.dumps([row for row in lab.port_map.to_json() if row[1] != 25]), encoding="utf-8")
    bin_ = fresh_venv(tmp_path / "venv")
    wheel = dist["wheel"]
    env = dict(os.environ, PATH=f"{bin_}{os.pathsep}{os.environ['PATH']}", PIP_NO_INDEX="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"),
               # the runner's settings, by environment: the lab's resolver, CA and ports
               BOLWERK_GATE_RESOLVER=lab.resolver, BOLWERK_GATE_CA_BUNDLE=str(lab.ca_bundle),
               BOLWERK_GATE_TRUST_ANCHOR=str(lab.trust_anchor), BOLWERK_GATE_LAB_PORT_MAP=str(ports),
               BOLWERK_GATE_RATE="500", BOLWERK_GATE_IO_TIMEOUT="3")

    def variables(declared: dict) -> dict:
        """The snippet's variables, with the wheel's URL and hash pointing at the wheel built here."""
        assert re.fullmatch(r"https://\S+/bolwerk-[0-9.]+-py3-none-any\.whl", declared["BOLWERK_WHEEL_URL"])
        assert re.fullmatch(r"[0-9a-f]{64}", str(declared["BOLWERK_SHA256"]))
        return {k: str(v) for k, v in declared.items()} | {
            "BOLWERK_WHEEL_URL": wheel.as_uri(), "BOLWERK_SHA256": hashlib.sha256(wheel.read_bytes()).hexdigest()}

    def run(command: str, declared: dict) -> subprocess.CompletedProcess:
        assert "pip install bolwerk" not in command  # never the unpublished name
        return subprocess.run(["bash", "-ec", command], cwd=repo, env=env | variables(declared), capture_output=True,
                              text=True, timeout=600)

    return repo, run, tmp_path


def check_sarif(path: Path) -> None:
    """The SARIF schema, and what GitHub's upload action needs of each result."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(SARIF_SCHEMA).validate(doc)
    run = doc["runs"][0]
    assert "automationDetails" not in run  # the upload's category names the analysis
    rules = {r["id"] for r in run["tool"]["driver"]["rules"]}
    for result in run["results"]:
        assert result["ruleId"] in rules and result["partialFingerprints"]
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri == "bolwerk.toml"  # relative to the repository root, where the inventory lives


def test_the_github_actions_snippet_runs_as_written(runner):
    repo, run, tmp = runner
    env, steps = github_steps()
    uses = [s["uses"] for s in steps if "uses" in s]
    assert uses[:2] == ["actions/checkout@v4", "actions/setup-python@v5"]  # the checkout and python: here already
    for step in steps:
        if "run" in step:
            done = run(step["run"], env)
            assert done.returncode == 0, (step["run"], done.stdout, done.stderr)
    assert "bolwerk: gate: PASS under bolwerk-baseline-ci@2026.12" in done.stderr or (tmp / "summary.md").exists()
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif"))
    check_sarif(repo / upload["with"]["sarif_file"])
    assert upload["with"]["category"]
    assert (tmp / "summary.md").read_text(encoding="utf-8").startswith("#")
    junit = ET.parse(repo / "bolwerk-junit.xml").getroot()
    assert junit.get("failures") == "0" and junit.get("errors") == "0"  # the gate passed: nothing is marked failed


def test_the_gitlab_snippet_runs_as_written(runner):
    repo, run, _ = runner
    job = gitlab_job()
    for command in job["script"]:
        done = run(command, job.get("variables", {}))
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    assert done.stderr.splitlines()[-1].startswith("bolwerk: gate: PASS under bolwerk-baseline-ci@2026.12")
    for artefact in job["artifacts"]["paths"]:
        assert (repo / artefact).stat().st_size > 0
    check_sarif(repo / "bolwerk.sarif")
    result = json.loads((repo / "bolwerk.json").read_text(encoding="utf-8"))
    assert result["gate"]["result"] == "pass" and result["services"][0]["grade"] not in (None, "incomplete")
    assert not any(f["check"].startswith("mail.starttls") for f in result["services"][0]["findings"])
    junit = ET.parse(repo / job["artifacts"]["reports"]["junit"]).getroot()
    assert int(junit.get("tests")) > 10 and junit.get("failures") == "0"


def test_without_the_ci_policy_a_runner_without_smtp_cannot_judge_mail(lab, lab_args, tmp_path):
    """Why the snippets use bolwerk-baseline-ci: under the baseline, port 25 blocked leaves the grade incomplete."""
    from click.testing import CliRunner

    from scanner.cli import main

    ports = tmp_path / "ports-no-smtp.json"
    ports.write_text(json.dumps([row for row in lab.port_map.to_json() if row[1] != 25]), encoding="utf-8")
    args = [a if a != lab_args[lab_args.index("--lab-port-map") + 1] else str(ports) for a in lab_args]
    res = CliRunner().invoke(main, ["gate", SERVICE, "--policy", "bolwerk-baseline@2026.11", *args])
    assert res.exit_code == 3, res.output
    assert "mail.starttls" in res.stderr.splitlines()[-1]
