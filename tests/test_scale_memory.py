"""Memory does not grow with the estate: a 2,000-endpoint scan needs at most 1.5x the memory of
a 200-endpoint one (issue 16). A shape, not a timing: both scans run the same way, in a process
of their own, against the generated estate of scanner/lab/scale.py on loopback."""

import os
import subprocess
import sys

import pytest

from scanner.lab import LabProcess
from scanner.lab.scale import write_port_map


def peak_rss_of_scan(endpoints: int, tmp_path) -> int:
    """The scan's peak resident set in KiB (`bolwerk scan` in a child process, one worker)."""
    lab = LabProcess("--scale", str(endpoints), start_timeout=300)
    with lab as info:
        cmd = [sys.executable, "-m", "scanner.cli", "scan", str(info.inventory), "--resolver", info.resolver,
               "--ca-bundle", str(info.ca_bundle), "--trust-anchor", str(info.trust_anchor),
               "--lab-port-map", str(write_port_map(info.directory, info.port_map)),
               "--db", str(tmp_path / f"h{endpoints}.db"), "--json", str(tmp_path / f"r{endpoints}.json"),
               "--concurrency", "64", "--rate", "500", "--workers", "1"]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.stderr.close()
        proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode in (0, 1), err[-2000:]
    assert lab.violations == []
    return usage.ru_maxrss


@pytest.mark.skipif(not os.environ.get("BOLWERK_SCALE_TEST"),
                    reason="two whole scans (minutes on two cores): set BOLWERK_SCALE_TEST=1")
@pytest.mark.timeout(1200)
def test_memory_of_a_scan_does_not_grow_with_the_estate(tmp_path):
    small = peak_rss_of_scan(200, tmp_path)
    large = peak_rss_of_scan(2000, tmp_path)
    assert large <= 1.5 * small, f"200 endpoints: {small} KiB, 2,000 endpoints: {large} KiB"
