# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ceph role's decisions that the Molecule scenarios cannot reach, rendered with Ansible's own templar
from the role's files: OSDs on block devices (containers have no spare disk for ceph-volume/LVM), the
kernel CephFS client (containers cannot load the ceph kernel module), and replication from the inventory.
"""

import json
import os

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from role_templates import trusted

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "ceph")
LOADER = DataLoader()


def role_file(*parts):
    """A YAML file of the role, its strings trusted."""
    return trusted(LOADER.load_from_file(os.path.join(ROLE, *parts)))


def task(file_name, name):
    """The task called `name` in tasks/<file_name>."""
    found = [item for item in role_file("tasks", file_name) if item["name"] == name]
    assert len(found) == 1, "no single task %r in %s" % (name, file_name)
    return found[0]


def templar(host="store1", hosts=None, **extra):
    """A templar with the role's defaults and vars for `host` of an inventory {host: (groups, hostvars)}."""
    hosts = hosts or {"store1": (["ceph_mons", "ceph_osds", "ceph_mdss"], {})}
    groups = {"all": list(hosts)}
    hostvars = {}
    for name, (host_groups, host_vars) in hosts.items():
        for group in host_groups:
            groups.setdefault(group, []).append(name)
        hostvars[name] = dict(host_vars, ansible_facts={"hostname": name, "default_ipv4": {"address": host_vars.get("address", "10.0.0.9")}})
    variables = role_file("defaults", "main.yml")
    variables.update(role_file("vars", "main.yml"))
    variables.update(hostvars[host])
    variables.update(groups=groups, hostvars=hostvars, inventory_hostname=host, ansible_facts=hostvars[host]["ansible_facts"])
    variables.update(trusted(extra))
    return Templar(loader=LOADER, variables=variables)


def render(engine, value):
    """A template (or a structure of them) rendered."""
    return engine.template(trusted(value))


def when(engine, conditions):
    """Whether every condition of a task's `when` holds."""
    if not isinstance(conditions, list):
        conditions = [conditions]
    return all(engine.evaluate_conditional(trusted(condition)) for condition in conditions)


# --- OSDs on block devices ----------------------------------------------------------------------------

# `ceph-volume lvm list --format json` of a host whose /dev/sdb holds osd.0 (block and a separate db LV).
CEPH_VOLUME_LIST = json.dumps({
    "0": [
        {"devices": ["/dev/sdb"], "lv_path": "/dev/ceph-1/osd-block-1", "type": "block", "tags": {"ceph.osd_id": "0"}},
        {"devices": ["/dev/nvme0n1"], "lv_path": "/dev/ceph-2/osd-db-1", "type": "db", "tags": {"ceph.osd_id": "0"}},
    ],
})


@pytest.mark.parametrize("device, created", [("/dev/sdb", False), ("/dev/nvme0n1", False), ("/dev/sdc", True)])
def test_a_device_that_already_holds_an_osd_is_left_alone(device, created):
    create = task("osd.yml", "Create an OSD on each device")
    engine = templar(item=device, __ceph_volume_list={"stdout": CEPH_VOLUME_LIST})
    assert when(engine, create["when"]) is created
    assert render(engine, create["ansible.builtin.command"]) == "ceph-volume lvm create --bluestore --data %s" % device


def test_no_device_is_created_when_ceph_volume_was_not_asked():
    # In check mode on a host without the packages yet, the listing is skipped: nothing may be created.
    engine = templar(item="/dev/sdc", __ceph_volume_list={"skipped": True})
    assert when(engine, task("osd.yml", "Create an OSD on each device")["when"]) is False


def test_the_device_listing_runs_only_for_hosts_with_devices():
    listing = task("osd.yml", "Look for devices that already hold an OSD")
    assert when(templar(ceph_osd_devices=["/dev/sdb"], ansible_check_mode=False, __ceph_install={"changed": False}), listing["when"])
    assert not when(templar(ceph_osd_devices=[], ansible_check_mode=False, __ceph_install={"changed": False}), listing["when"])


@pytest.mark.parametrize("devices, files, packages", [
    (["/dev/sdb"], [], ["ceph-common", "ceph-mon", "ceph-mgr", "python3-cephfs", "ceph-osd", "lvm2", "ceph-mds"]),
    ([], [{"path": "/srv/osd0.img"}], ["ceph-common", "ceph-mon", "ceph-mgr", "python3-cephfs", "ceph-osd", "ceph-mds"]),
])
def test_lvm2_is_installed_only_for_block_device_osds(devices, files, packages):
    hosts = {"store1": (["ceph_mons", "ceph_osds", "ceph_mdss"], {"ceph_osd_devices": devices, "ceph_osd_files": files})}
    assert render(templar(hosts=hosts), "{{ __ceph_packages }}") == packages


# --- replication from the inventory --------------------------------------------------------------------

def osd_hosts(*counts, devices=True):
    """An inventory of one monitor and OSD hosts with counts[i] devices (or files) each."""
    hosts = {"mon1": (["ceph_mons"], {})}
    for index, count in enumerate(counts):
        key = "ceph_osd_devices" if devices else "ceph_osd_files"
        hosts["osd%d" % index] = (["ceph_osds"], {key: ["/dev/sd%s" % chr(98 + n) for n in range(count)]})
    return hosts


@pytest.mark.parametrize("counts, devices, size, min_size, domain", [
    ((1,), False, 1, 1, "host"),         # the lab: one OSD on a file
    ((1, 1), False, 2, 1, "host"),       # the scenario after growth
    ((3,), True, 3, 2, "osd"),           # three disks in one host
    ((2, 2, 2), True, 3, 2, "host"),     # three hosts: one copy per host
    ((4, 4), True, 3, 2, "osd"),         # more copies than hosts: the OSD is the failure domain
])
def test_replication_follows_the_osds_in_the_inventory(counts, devices, size, min_size, domain):
    engine = templar(host="mon1", hosts=osd_hosts(*counts, devices=devices))
    assert int(render(engine, "{{ __ceph_pool_size }}")) == size
    assert int(render(engine, "{{ __ceph_pool_min_size }}")) == min_size
    assert render(engine, "{{ __ceph_crush_rule }}") == "shepherd_replicated_" + domain


def test_replication_max_caps_the_copies():
    engine = templar(host="mon1", hosts=osd_hosts(1, 1, 1, 1), ceph_replication_max=2)
    assert int(render(engine, "{{ __ceph_pool_size }}")) == 2
    assert render(engine, "{{ __ceph_crush_rule }}") == "shepherd_replicated_host"


# --- the kernel client ---------------------------------------------------------------------------------

THREE_MONS = {
    "mon1": (["ceph_mons", "ceph_osds"], {"address": "10.0.0.1", "ceph_osd_devices": ["/dev/sdb"]}),
    "mon2": (["ceph_mons", "ceph_osds"], {"address": "10.0.0.2", "ceph_osd_devices": ["/dev/sdb"]}),
    "mon3": (["ceph_mons", "ceph_osds"], {"address": "10.0.0.3", "ceph_osd_devices": ["/dev/sdb"]}),
    "docker1": (["ceph_clients"], {"address": "10.0.1.1"}),
}


@pytest.mark.parametrize("setting, module_exists, chosen", [
    ("auto", True, "kernel"), ("auto", False, "fuse"), ("kernel", False, "kernel"), ("fuse", True, "fuse"),
])
def test_the_kernel_client_is_chosen_where_the_kernel_has_it(setting, module_exists, chosen):
    choose = task("client.yml", "Choose the CephFS client")
    engine = templar(host="docker1", hosts=THREE_MONS, ceph_client_mount_type=setting,
                     __ceph_kernel_module={"stat": {"exists": module_exists}})
    assert render(engine, choose["ansible.builtin.set_fact"]["__ceph_mount_type"]).strip() == chosen


def mount_args(mount_type):
    """The arguments of the persistent mount task on docker1 for one client type."""
    mount = task("client.yml", "Mount CephFS persistently")
    engine = templar(host="docker1", hosts=THREE_MONS, __ceph_mount_type=mount_type, **mount["vars"])
    return render(engine, mount["ansible.posix.mount"])


def test_the_kernel_mount_names_every_monitor_the_volumes_tree_and_the_secret_file():
    args = mount_args("kernel")
    assert args["src"] == "10.0.0.1:6789,10.0.0.2:6789,10.0.0.3:6789:/volumes"
    assert args["fstype"] == "ceph"
    assert args["opts"].split(",") == ["name=docker", "secretfile=/etc/ceph/ceph.client.docker.secret",
                                       "mds_namespace=cephfs", "_netdev", "noatime"]


def test_the_fuse_mount_uses_the_same_key_and_tree():
    args = mount_args("fuse")
    assert (args["src"], args["fstype"]) == ("none", "fuse.ceph")
    assert "ceph.id=docker" in args["opts"].split(",") and "ceph.client_mountpoint=/volumes" in args["opts"].split(",")


def with_client_key(engine, stdout, rc=0):
    """The templar after the first monitor answered `stdout` and the client took its secret from it."""
    engine.available_variables["hostvars"]["mon1"]["__ceph_client_key"] = {"stdout": stdout, "rc": rc}
    take = task("client.yml", "Take the clients' secret from the first monitor's answer")
    if when(engine, take["when"]):
        variables = dict(engine.available_variables)
        variables.update(render(engine, take["ansible.builtin.set_fact"]))
        engine.available_variables = variables
    return engine


def test_the_kernel_client_gets_the_bare_secret_of_the_clients_key():
    write = task("client.yml", "Write the clients' bare secret for the kernel client")
    keyring = "[client.docker]\n\tkey = AQBxZ2ZlAAAAABAAx1c9Lk+8r2Ww/7Qp4Gm3tA==\n"
    engine = with_client_key(templar(host="docker1", hosts=THREE_MONS, __ceph_mount_type="kernel"), keyring)
    assert when(engine, write["when"])
    assert render(engine, write["ansible.builtin.copy"]["content"]) == "AQBxZ2ZlAAAAABAAx1c9Lk+8r2Ww/7Qp4Gm3tA==\n"
    assert render(engine, write["ansible.builtin.copy"]["mode"]) == "0600"
    assert not when(templar(host="docker1", hosts=THREE_MONS, __ceph_mount_type="fuse"), write["when"])


@pytest.mark.parametrize("stdout", [
    # `ceph auth get-or-create` (a real run) ...
    "[client.docker]\n\tkey = AQBxZ2ZlAAAAABAAx1c9Lk+8r2Ww/7Qp4Gm3tA==",
    # ... and `ceph auth get` (check mode), which adds the caps: the keyring written is the same.
    "[client.docker]\n\tkey = AQBxZ2ZlAAAAABAAx1c9Lk+8r2Ww/7Qp4Gm3tA==\n\tcaps mds = \"allow rwp path=/volumes\"\n\tcaps mon = \"allow r\"\n",
])
def test_the_clients_keyring_is_the_same_from_get_or_create_and_from_get(stdout):
    write = task("client.yml", "Write the clients' key")
    engine = with_client_key(templar(host="docker1", hosts=THREE_MONS), stdout)
    assert when(engine, write["when"])
    assert render(engine, write["ansible.builtin.copy"]["content"]) == "[client.docker]\n\tkey = AQBxZ2ZlAAAAABAAx1c9Lk+8r2Ww/7Qp4Gm3tA==\n"


def test_no_clients_key_is_written_when_the_key_does_not_exist_yet_in_check_mode():
    engine = with_client_key(templar(host="docker1", hosts=THREE_MONS), "", rc=2)
    assert not when(engine, task("client.yml", "Write the clients' key")["when"])
