"""Shared pytest setup: make `ansible_collections.shepherd.fleet` importable from this checkout."""

import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / ".cache" / "collections"

# scripts/setup.sh links .cache/collections/ansible_collections/shepherd/fleet to this checkout.
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
