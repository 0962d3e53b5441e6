"""Large downloads go through the receive -> hash -> write pipeline (a small chunk size makes a 1 MB program
"large"): a broken connection keeps what arrived and the next apply resumes it with Range; a disk that fills up
during the download leaves running untouched and nothing behind."""

import os

import pytest

from ansible_collections.shepherd.fleet.plugins.module_utils import ota_fetch
from ansible_collections.shepherd.fleet.plugins.module_utils.ota_engine import Engine
from ansible_collections.shepherd.fleet.plugins.module_utils.ota_errors import OtaError

import otakit

GOOD = {"command": "test -x app", "timeout": 10, "attempts": 1, "interval": 0}
CHUNK = 16384
SIZE = 1000000
assert SIZE > ota_fetch.BUFFERS * CHUNK  # so that the pipeline, not the simple loop, does the download


def test_a_broken_pipeline_download_resumes_with_range(tmp_path):
    fw, root = tmp_path / "fw", tmp_path / "root"
    data = os.urandom(SIZE)
    with otakit.fault_server(fw) as server:
        otakit.make_release(fw, "1.0", 1, {"app": b"app 1"}, GOOD)
        engine = Engine(str(root), chunk=CHUNK, health_interval=0)
        engine.apply(server.url + "/1.0/manifest.json")
        otakit.make_release(fw, "2.0", 2, {"app": data}, GOOD)
        server.drop_once = {"/2.0/app": 400000}
        with pytest.raises(OtaError, match=r"programs \(app\)\.size: .* sent 400000 bytes, the manifest says 1000000 \(truncated download\)"):
            engine.apply(server.url + "/2.0/manifest.json")
        part = root / "update" / ".app.part"
        assert part.stat().st_size == 400000 and part.read_bytes() == data[:400000]
        otakit.check_invariant(root, [("1.0", None)])
        assert engine.apply(server.url + "/2.0/manifest.json")["result"] == "updated"
        assert ("/2.0/app", "bytes=400000-") in server.requests
    assert (root / "running" / "app").read_bytes() == data
    otakit.check_invariant(root, [("2.0", "1.0")])


def test_disk_full_during_a_pipeline_download(tmp_path, monkeypatch):
    with otakit.small_tmpfs(tmp_path / "small", "2m") as mnt:
        fw, root = tmp_path / "fw", mnt / "root"
        engine = Engine(str(root), chunk=CHUNK, health_interval=0)
        engine.apply(otakit.make_release(fw, "1.0", 1, {"app": b"app 1"}, GOOD))
        # another writer fills the disk after the free-space check: the write itself fails
        monkeypatch.setattr(Engine, "_check_space", lambda self, manifest, plan: None)
        with pytest.raises(OtaError, match="disk full while staging release 2.0"):
            engine.apply(otakit.make_release(fw, "2.0", 2, {"app": os.urandom(3 * SIZE)}, GOOD))
        otakit.check_invariant(root, [("1.0", None)])
        assert not os.path.lexists(root / "update") and engine.status()["last_result"]["result"] == "failed"
