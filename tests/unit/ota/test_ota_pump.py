"""The download pump: the simple loop (used under fault injection) and the receive -> hash -> write pipeline
(large downloads) must write and hash exactly the stream's bytes, and stop all their threads on any error."""

import hashlib
import io
import os
import threading

import pytest

from ansible_collections.shepherd.fleet.plugins.module_utils import ota_fetch
from ansible_collections.shepherd.fleet.plugins.module_utils.ota_errors import NetworkError, OtaError

CHUNK = 4096
DATA = os.urandom(CHUNK * ota_fetch.BUFFERS * 5 + 123)  # large enough for the pipeline, not a chunk multiple


class Trickle(io.RawIOBase):
    """A stream that returns short reads (like a socket) and can break off after `fail_at` bytes."""

    def __init__(self, data, step=1000, fail_at=None):
        super().__init__()
        self.data, self.pos, self.step, self.fail_at = data, 0, step, fail_at

    def readable(self):
        return True

    def readinto(self, b):
        if self.fail_at is not None and self.pos >= self.fail_at:
            raise ConnectionResetError("connection reset by peer")
        n = min(len(b), self.step, len(self.data) - self.pos)
        b[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


def pump_into(tmp_path, stream, size=len(DATA), on_write=None, start=0):
    hashers = [hashlib.md5(), hashlib.sha256()]
    pump = ota_fetch.Pump("app", "http://fw/app", size, hashers, CHUNK, on_write)
    path = tmp_path / "app.part"
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        os.lseek(fd, start, os.SEEK_SET)
        total = pump.run(stream, fd, start)
    finally:
        os.close(fd)
    return total, hashers, path


def no_pump_threads():
    return not [t for t in threading.enumerate() if t.name in ("ota-receive", "ota-hash") and t.is_alive()]


@pytest.mark.parametrize("on_write", [None, lambda label: None], ids=["pipeline", "simple"])
def test_every_byte_is_written_and_hashed_once(tmp_path, on_write):
    total, hashers, path = pump_into(tmp_path, Trickle(DATA), on_write=on_write)
    assert total == len(DATA) and path.read_bytes() == DATA
    assert hashers[0].hexdigest() == hashlib.md5(DATA).hexdigest()
    assert hashers[1].hexdigest() == hashlib.sha256(DATA).hexdigest()
    assert no_pump_threads()


def test_the_pipeline_continues_a_resumed_file(tmp_path):
    (tmp_path / "app.part").write_bytes(DATA[:5000])
    total, dummy, path = pump_into(tmp_path, Trickle(DATA[5000:]), start=5000)
    assert total == len(DATA) and path.read_bytes() == DATA


def test_a_broken_connection_is_a_resumable_network_error(tmp_path):
    with pytest.raises(NetworkError, match=r"programs \(app\): the download from http://fw/app broke off"):
        pump_into(tmp_path, Trickle(DATA, fail_at=len(DATA) // 2))
    assert no_pump_threads()
    assert 0 < (tmp_path / "app.part").stat().st_size <= len(DATA) // 2  # what arrived is kept for resuming
    assert (tmp_path / "app.part").read_bytes() == DATA[:(tmp_path / "app.part").stat().st_size]


def test_a_stream_longer_than_the_manifest_says_is_refused(tmp_path):
    with pytest.raises(OtaError, match=r"programs \(app\)\.size: http://fw/app sends more than the 40000 bytes"):
        pump_into(tmp_path, Trickle(DATA), size=40000)
    assert no_pump_threads()


def test_a_write_error_stops_the_other_stages(tmp_path, monkeypatch):
    calls = []

    def failing_write(fd, data):
        calls.append(len(data))
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        os.write(fd, data)

    monkeypatch.setattr(ota_fetch, "write_all", failing_write)
    with pytest.raises(OSError, match="No space left"):
        pump_into(tmp_path, Trickle(DATA))
    assert no_pump_threads()
