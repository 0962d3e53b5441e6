"""Puts the Mesos stand-in, the stand-in package and image builders and the ZooKeeper probe on the import path."""

import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[3]
for folder in (REPO / "tests" / "standins" / "mesos", REPO / "tests" / "standins" / "debs", REPO / "tests" / "standins" / "images",
               REPO / "roles" / "zookeeper" / "files"):
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
