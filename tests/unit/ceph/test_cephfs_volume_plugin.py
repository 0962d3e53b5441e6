# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cephfs Docker volume plugin on a temporary directory: names, quotas, removal, and the protocol
spoken over a real unix socket. CephFS quotas are xattrs only CephFS has, so a dict stands in for them."""

import http.client
import importlib.util
import json
import os
import socket
import threading

import pytest

PLUGIN_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "cephfs_volumes", "files", "cephfs_volume_plugin.py")
SPEC = importlib.util.spec_from_file_location("cephfs_volume_plugin", PLUGIN_PATH)
plugin = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(plugin)


@pytest.fixture(name="quotas")
def fixture_quotas():
    return {}


@pytest.fixture(name="driver")
def fixture_driver(tmp_path, quotas):
    return plugin.VolumeDriver(
        str(tmp_path),
        require_mount=False,
        set_quota=quotas.__setitem__,
        get_quota=lambda path: quotas.get(path, 0),
    )


@pytest.mark.parametrize("name", [
    "../etc", "alice./etc", "alice../x", "alice.a/b", "alice", ".alice.x", "Alice.x", "alice.", "alice..",
    "alice.-x", "a" * 33 + ".x", "alice." + "x" * 129, "alice.x\n", "", None,
])
def test_names_that_could_escape_or_are_malformed_are_refused(driver, tmp_path, name):
    with pytest.raises(plugin.VolumeError) as error:
        driver.create(name, {})
    assert "volume name" in str(error.value)
    assert os.listdir(str(tmp_path)) == []


def test_volume_lives_at_root_user_name(driver, tmp_path):
    driver.create("alice.web-data", {})
    assert os.path.isdir(str(tmp_path / "alice" / "web-data"))
    assert driver.path("alice.web-data") == str(tmp_path / "alice" / "web-data")
    assert driver.list() == [{"Name": "alice.web-data", "Mountpoint": str(tmp_path / "alice" / "web-data")}]


def test_one_users_volume_is_not_reachable_by_another_users_name(driver):
    driver.create("alice.data", {})
    with pytest.raises(plugin.VolumeError, match="no such volume"):
        driver.mount("bob.data", "c1")
    driver.create("bob.data", {})
    assert driver.mount("alice.data", "c1") != driver.mount("bob.data", "c2")


def test_symbolic_link_in_place_of_a_volume_is_refused(driver, tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "data").symlink_to("/etc")
    with pytest.raises(plugin.VolumeError, match="symbolic link"):
        driver.mount("alice.data", "c1")
    assert driver.list() == []


@pytest.mark.parametrize("text,size", [("1048576", 1048576), ("512M", 512 * 1024 ** 2), ("10G", 10 * 1024 ** 3),
                                       ("1GiB", 1024 ** 3), ("2t", 2 * 1024 ** 4), ("64KB", 65536)])
def test_size_option_sets_the_quota(driver, quotas, tmp_path, text, size):
    driver.create("alice.data", {"size": text})
    assert quotas == {str(tmp_path / "alice" / "data"): size}
    assert driver.get("alice.data")["Status"]["size"] == size


@pytest.mark.parametrize("options,field", [({"size": "ten"}, "option size"), ({"size": "0"}, "option size"),
                                           ({"purge": "maybe"}, "option purge"), ({"sise": "1G"}, "sise")])
def test_bad_options_name_the_field_and_create_nothing(driver, tmp_path, options, field):
    with pytest.raises(plugin.VolumeError, match=field):
        driver.create("alice.data", options)
    assert os.listdir(str(tmp_path)) == []


def test_create_again_keeps_the_data(driver, tmp_path):
    driver.create("alice.data", {})
    (tmp_path / "alice" / "data" / "file").write_text("kept")
    driver.create("alice.data", {"size": "1G"})
    assert (tmp_path / "alice" / "data" / "file").read_text() == "kept"


def test_remove_keeps_the_data_in_the_trash(driver, tmp_path):
    driver.create("alice.data", {})
    (tmp_path / "alice" / "data" / "file").write_text("precious")
    driver.remove("alice.data")
    assert driver.list() == []
    trashed = os.listdir(str(tmp_path / ".trash" / "alice"))
    assert len(trashed) == 1 and trashed[0].startswith("data.")
    assert (tmp_path / ".trash" / "alice" / trashed[0] / "file").read_text() == "precious"
    # The same name again is a fresh, empty volume; removing it again keeps both copies.
    driver.create("alice.data", {})
    driver.remove("alice.data")
    assert len(os.listdir(str(tmp_path / ".trash" / "alice"))) == 2


def test_remove_purges_only_when_the_volume_asked_for_it(driver, tmp_path):
    driver.create("alice.scratch", {"purge": "true"})
    (tmp_path / "alice" / "scratch" / "file").write_text("temporary")
    driver.remove("alice.scratch")
    assert not (tmp_path / "alice" / "scratch").exists()
    assert not (tmp_path / ".trash").exists()


def test_remove_refuses_a_volume_mounted_here(driver):
    driver.create("alice.data", {})
    driver.mount("alice.data", "c1")
    with pytest.raises(plugin.VolumeError, match="mounted by container"):
        driver.remove("alice.data")
    driver.unmount("alice.data", "c1")
    driver.remove("alice.data")


def test_unknown_volume_is_an_error_for_every_lookup(driver):
    for call in (lambda: driver.get("alice.none"), lambda: driver.path("alice.none"),
                 lambda: driver.mount("alice.none", "c1"), lambda: driver.remove("alice.none")):
        with pytest.raises(plugin.VolumeError, match="no such volume"):
            call()


def test_unmounted_root_is_refused(tmp_path):
    driver = plugin.VolumeDriver(str(tmp_path), require_mount=True)
    with pytest.raises(plugin.VolumeError, match="not mounted"):
        driver.create("alice.data", {})
    assert os.listdir(str(tmp_path)) == []


def test_list_skips_trash_metadata_and_foreign_entries(driver, tmp_path):
    driver.create("alice.a", {"purge": "false"})
    driver.create("bob.b", {})
    driver.remove("bob.b")
    (tmp_path / "lost+found").mkdir()
    (tmp_path / "alice" / "stray-file").write_text("")
    assert [volume["Name"] for volume in driver.list()] == ["alice.a"]


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over a unix socket, as dockerd talks to plugins."""

    def __init__(self, path):
        super().__init__("localhost")
        self.socket_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.socket_path)


@pytest.fixture(name="call")
def fixture_call(driver):
    # A unix socket path must be short; tmp_path can be long.
    sock = "/tmp/cephfs-plugin-test-%d.sock" % os.getpid()
    server = plugin.make_server(driver, sock)
    assert oct(os.stat(sock).st_mode & 0o777) == "0o600"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def call(endpoint, body=None):
        connection = UnixHTTPConnection(sock)
        connection.request("POST", endpoint, body=json.dumps(body or {}),
                           headers={"Content-Type": "application/vnd.docker.plugins.v1.2+json"})
        response = connection.getresponse()
        assert response.status == 200
        answer = json.loads(response.read())
        connection.close()
        return answer

    yield call
    server.shutdown()
    server.server_close()
    os.unlink(sock)


def test_protocol_over_the_unix_socket(call, tmp_path):
    assert call("/Plugin.Activate") == {"Implements": ["VolumeDriver"]}
    assert call("/VolumeDriver.Capabilities") == {"Capabilities": {"Scope": "global"}}
    assert call("/VolumeDriver.Create", {"Name": "alice.data", "Opts": {"size": "1M"}}) == {"Err": ""}
    path = str(tmp_path / "alice" / "data")
    assert call("/VolumeDriver.Mount", {"Name": "alice.data", "ID": "c1"}) == {"Mountpoint": path, "Err": ""}
    assert call("/VolumeDriver.Path", {"Name": "alice.data"}) == {"Mountpoint": path, "Err": ""}
    got = call("/VolumeDriver.Get", {"Name": "alice.data"})
    assert got["Err"] == "" and got["Volume"]["Mountpoint"] == path and got["Volume"]["Status"]["size"] == 1048576
    assert call("/VolumeDriver.List")["Volumes"] == [{"Name": "alice.data", "Mountpoint": path}]
    assert call("/VolumeDriver.Unmount", {"Name": "alice.data", "ID": "c1"}) == {"Err": ""}
    assert call("/VolumeDriver.Remove", {"Name": "alice.data"}) == {"Err": ""}
    assert call("/VolumeDriver.List")["Volumes"] == []


def test_protocol_errors_are_answers_not_crashes(call):
    assert "volume name" in call("/VolumeDriver.Create", {"Name": "../../etc"})["Err"]
    assert "no such volume" in call("/VolumeDriver.Get", {"Name": "alice.none"})["Err"]
    assert "unknown endpoint" in call("/VolumeDriver.Nope", {})["Err"]
    # The server is still there after the errors.
    assert call("/Plugin.Activate") == {"Implements": ["VolumeDriver"]}
