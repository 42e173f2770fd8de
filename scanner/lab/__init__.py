"""The lab: real servers on loopback that imitate a small estate (demo and tests)."""

from scanner.lab.lab import Lab, LabInfo, LabProcess

__all__ = ["Lab", "LabInfo", "LabProcess"]
