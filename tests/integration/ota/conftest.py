"""The ota integration tests share tests/unit/ota/otakit.py (releases, firmware server, invariant)."""

import pathlib
import sys

KIT = pathlib.Path(__file__).resolve().parents[2] / "unit" / "ota"
if str(KIT) not in sys.path:
    sys.path.insert(0, str(KIT))
