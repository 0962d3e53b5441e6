"""Bad inputs through the ota-agent CLI and a loopback firmware server: each gives a non-zero exit and a clear
error naming the field or program, and leaves running (and backup) exactly as they were."""

import hashlib
import json
import os
import pathlib
import subprocess
import uuid

import pytest

import otakit

GOOD = {"command": "test -x app", "timeout": 10, "attempts": 1, "interval": 0}


def agent(root, *args):
    return subprocess.run([str(otakit.AGENT), "--root", str(root)] + list(args), capture_output=True, text=True,
                          timeout=120, check=False)


def snapshot(root):
    """Everything a failed apply must not change: the links, and the bytes of every program they name."""
    out = {}
    for link in ("running", "backup"):
        path = pathlib.Path(root) / link
        if os.path.lexists(path):
            out[link] = (os.readlink(path), {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in path.iterdir()})
    return out


@pytest.fixture(name="device")
def fixture_device(tmp_path):
    """A device running release 1.0 (backup 0.9), a firmware directory served on loopback."""
    fw = tmp_path / "fw"
    root = tmp_path / "root"
    with otakit.fault_server(fw) as server:
        for release, seq in (("0.9", 1), ("1.0", 2)):
            otakit.make_release(fw, release, seq, {"app": release.encode() * 3000, "lib": b"lib" * 1000}, GOOD)
            assert agent(root, "-q", "apply", server.url + "/%s/manifest.json" % release).returncode == 0
        server.fw = fw
        yield root, server


def publish(server, files, sequence=3, edit=None):
    """A release 2.0 under a fresh folder; edit(manifest) may break it. Returns the manifest URL."""
    name = "2.0-" + uuid.uuid4().hex[:6]
    otakit.make_release(server.fw, name, sequence, files, GOOD)
    path = server.fw / name / "manifest.json"
    doc = json.loads(path.read_text())
    if edit:
        edit(doc)
    path.write_text(json.dumps(doc))
    return server.url + "/%s/manifest.json" % name


def expect_failure(root, url, message, code=1, extra=()):
    before = snapshot(root)
    proc = agent(root, "apply", url, *extra)
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert message in proc.stderr, proc.stderr
    assert snapshot(root) == before, "running or backup changed"
    otakit.check_invariant(root, [("1.0", "0.9")])
    return proc


def test_wrong_md5(device):
    root, server = device
    url = publish(server, {"app": b"new app"}, edit=lambda d: d["programs"][0].update(md5="0" * 32, sha256=None))
    expect_failure(root, url, "programs (app).md5: downloaded")


def test_wrong_sha256(device):
    root, server = device
    url = publish(server, {"app": b"new app"}, edit=lambda d: d["programs"][0].update(sha256="f" * 64))
    expect_failure(root, url, "programs (app).sha256: downloaded")


def test_wrong_size_larger_file(device):
    root, server = device
    url = publish(server, {"app": b"new app"}, edit=lambda d: d["programs"][0].update(size=3))
    expect_failure(root, url, "programs (app).size:")


def test_truncated_download_then_fixed(device):
    root, server = device
    url = publish(server, {"app": b"A" * 50000})
    folder = url.rsplit("/", 2)[-2]
    full = (server.fw / folder / "app").read_bytes()
    (server.fw / folder / "app").write_bytes(full[:20000])  # the server holds a truncated file
    expect_failure(root, url, "programs (app).size: ")
    (server.fw / folder / "app").write_bytes(full)  # once the file is whole the same apply goes through
    assert agent(root, "-q", "apply", url).returncode == 0
    otakit.check_invariant(root, [(folder, "1.0")])


def test_server_gone_mid_download_resumes_next_time(device):
    root, server = device
    url = publish(server, {"app": os.urandom(100000)})
    folder = url.rsplit("/", 2)[-2]
    server.drop_once = {"/%s/app" % folder: 30000}  # sends 30000 bytes of 100000, then hangs up
    expect_failure(root, url, "programs (app)")
    part = root / "update" / ".app.part"
    assert part.stat().st_size == 30000  # kept for resuming
    assert agent(root, "-q", "apply", url).returncode == 0
    assert ("/%s/app" % folder, "bytes=30000-") in server.requests
    otakit.check_invariant(root, [(folder, "1.0")])


def test_404_program_and_404_manifest(device):
    root, server = device
    url = publish(server, {"app": b"new"}, edit=lambda d: d["programs"][0].update(url="missing.bin"))
    expect_failure(root, url, "programs (app): http://%s:%d/" % server.server_address)
    expect_failure(root, url, "returned HTTP 404")
    expect_failure(root, server.url + "/nothing/manifest.json", "manifest: %s/nothing/manifest.json returned HTTP 404"
                   % server.url)


def test_server_down(device):
    root, server = device
    port = server.server_address[1]
    expect_failure(root, "http://127.0.0.1:1/manifest.json", "manifest: cannot fetch http://127.0.0.1:1/manifest.json")
    assert port


@pytest.mark.parametrize("edit, message", [
    (lambda d: d.pop("sequence"), "sequence: expected a non-negative integer"),
    (lambda d: d["programs"][0].update(name="../../etc/passwd"), "programs[0].name: '../../etc/passwd' is not a safe"),
    (lambda d: d["programs"][0].update(name="/bin/sh"), "programs[0].name: '/bin/sh' is not a safe"),
    (lambda d: d["programs"][0].update(md5="xyz"), "programs[0] (app).md5: expected 32 hexadecimal digits"),
    (lambda d: d["programs"][0].pop("md5"), "programs[0] (app).md5"),
    (lambda d: d.update(format=2), "format: expected 1, got 2"),
    (lambda d: d["programs"][0].update(mode="4755"), "programs[0] (app).mode"),
])
def test_malformed_manifests(device, edit, message):
    root, server = device
    expect_failure(root, publish(server, {"app": b"x"}, edit=edit), message)


def test_not_json(device):
    root, server = device
    (server.fw / "junk.json").write_text('{"format": 1, "release": ')
    expect_failure(root, server.url + "/junk.json", "manifest: not valid JSON")


def test_downgrade_refused_then_allowed(device):
    root, server = device
    url = server.url + "/0.9/manifest.json"
    expect_failure(root, url, "sequence: 1 is not higher than the running sequence 2 (release 1.0)")
    assert agent(root, "-q", "apply", "--allow-downgrade", url).returncode == 0
    otakit.check_invariant(root, [("0.9", "1.0")])


def test_disk_full_on_a_small_tmpfs(tmp_path):
    with otakit.small_tmpfs(tmp_path / "small", "2m") as mnt:
        fw, root = tmp_path / "fw", mnt / "root"
        ok = otakit.make_release(fw, "1.0", 1, {"app": b"a" * 200000}, GOOD)
        assert agent(root, "-q", "apply", ok).returncode == 0
        big = otakit.make_release(fw, "2.0", 2, {"app": os.urandom(3 * 1024 * 1024)}, GOOD)
        before = snapshot(root)
        proc = agent(root, "apply", big)
        assert proc.returncode == 1 and "disk full: release 2.0 needs 3145728 bytes" in proc.stderr, proc.stderr
        assert snapshot(root) == before
        # the space check passes but the disk fills up during the download (another writer): still clean
        filler = mnt / "filler"
        mid = otakit.make_release(fw, "3.0", 3, {"app": os.urandom(900 * 1024)}, GOOD)
        free = os.statvfs(mnt).f_bavail * os.statvfs(mnt).f_frsize
        filler.write_bytes(b"\0" * max(0, free - 1024 * 1024 - 950 * 1024))
        proc = agent(root, "apply", mid)
        assert proc.returncode in (0, 1), proc.stderr
        otakit.check_invariant(root, [("1.0", None), ("3.0", "1.0")])
