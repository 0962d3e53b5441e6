"""The local lab: systemd host containers on a dedicated Docker network, its inventory, and its services."""

from shepherd.lab.lab import Lab, LabError
from shepherd.lab.topology import LabHost, LabSpec

__all__ = ["Lab", "LabError", "LabHost", "LabSpec"]
