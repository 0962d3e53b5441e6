"""Shared pytest setup: make `ansible_collections.shepherd.fleet` importable from this checkout."""

import pathlib
import sys

REPO = pathlib.Path(__file__).resolve().parents[1]
COLLECTIONS = REPO / ".cache" / "collections"

# scripts/setup.sh links .cache/collections/ansible_collections/shepherd/fleet to this checkout.
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))

# Templar looks filters and tests up through Ansible's plugin loader and collection finder, which
# ansible-playbook sets up; do the same (once for the whole run), so unit tests can render role expressions
# that use ansible.builtin's and this collection's plugins.
from ansible.plugins.loader import init_plugin_loader  # noqa: E402  pylint: disable=wrong-import-position

init_plugin_loader([str(COLLECTIONS)])
