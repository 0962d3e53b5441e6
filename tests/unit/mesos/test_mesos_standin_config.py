"""The Mesos stand-in reads and refuses configuration as the real daemons do."""

import pytest

import mesos_standin
import zkclient

ZK = "zk://zk1:2181,zk2:2181/mesos"


def master_flags(argv, environ=None):
    flags = mesos_standin.load_flags(argv, environ or {}, mesos_standin.MASTER_FLAGS)
    mesos_standin.Master.validate(flags)
    return flags


def agent_flags(argv, environ=None):
    flags = mesos_standin.load_flags(argv, environ or {}, mesos_standin.AGENT_FLAGS)
    mesos_standin.Agent.validate(flags)
    return flags


def test_flags_override_environment_and_unknown_environment_is_ignored():
    flags = master_flags(["--quorum=2", "--work_dir=/w"], {"MESOS_ZK": ZK, "MESOS_QUORUM": "1", "MESOS_NOPE": "x"})
    assert flags == {"zk": ZK, "quorum": "2", "work_dir": "/w"}


def test_unknown_flag_is_refused():
    with pytest.raises(mesos_standin.ConfigError, match="unknown flag 'wrok_dir'"):
        master_flags(["--wrok_dir=/w"])


def test_boolean_flags_without_value():
    flags = mesos_standin.load_flags(["--authenticate_agents", "--no-hostname_lookup"], {}, mesos_standin.MASTER_FLAGS)
    assert flags == {"authenticate_agents": "true", "hostname_lookup": "false"}


@pytest.mark.parametrize("argv, message", [
    (["--zk=" + ZK, "--quorum=2"], "--work_dir needed"),
    (["--zk=" + ZK, "--work_dir=/w"], "Need to specify --quorum"),
    (["--quorum=2", "--work_dir=/w"], "--quorum given without --zk"),
    (["--zk=" + ZK, "--quorum=0", "--work_dir=/w"], "not a positive integer"),
    (["--zk=zk://zk1:2181", "--quorum=1", "--work_dir=/w"], "needs hosts and a path"),
    (["--registry=floppy", "--work_dir=/w"], "not a supported option"),
])
def test_master_refuses_what_mesos_refuses(argv, message):
    with pytest.raises((mesos_standin.ConfigError, ValueError), match=message):
        master_flags(argv)


def test_in_memory_registry_needs_no_work_dir():
    assert master_flags(["--registry=in_memory"]) == {"registry": "in_memory"}


@pytest.mark.parametrize("argv, message", [
    (["--work_dir=/w"], "Missing required option --master"),
    (["--master=" + ZK], "'work_dir' is required"),
    (["--master=" + ZK, "--work_dir=/w", "--containerizers=mesos,lxc"], "unsupported containerizer: lxc"),
    (["--master=" + ZK, "--work_dir=/w", "--containerizers=docker,mesos", "--docker=/nonexistent/docker"],
     "Could not create DockerContainerizer"),
    (["--master=" + ZK, "--work_dir=/w", "--resources=cpus:many"], "not a number"),
    (["--master=" + ZK, "--work_dir=/w", "--attributes=rack"], "Invalid attribute"),
])
def test_agent_refuses_what_mesos_refuses(argv, message):
    with pytest.raises(mesos_standin.ConfigError, match=message):
        agent_flags(argv)


def test_resources_and_attributes_as_mesos_reports_them():
    assert mesos_standin.parse_resources("cpus:2;mem:1024;ports:[31000-32000]") == {
        "cpus": 2.0, "mem": 1024.0, "disk": 10240.0, "ports": "[31000-32000]"}
    assert mesos_standin.parse_attributes("rack:r1;level:2;weight:0.5") == {"rack": "r1", "level": 2, "weight": 0.5}


def test_durations():
    assert mesos_standin.parse_duration("10secs") == 10
    assert mesos_standin.parse_duration("500ms") == 0.5
    assert mesos_standin.parse_duration("2mins") == 120
    with pytest.raises(mesos_standin.ConfigError):
        mesos_standin.parse_duration("soon")


def test_init_wrapper_turns_the_packages_files_into_flags(tmp_path):
    (tmp_path / "mesos").mkdir()
    (tmp_path / "mesos" / "zk").write_text(ZK + "\n")
    (tmp_path / "mesos-master").mkdir()
    (tmp_path / "mesos-master" / "quorum").write_text("2\n")
    (tmp_path / "mesos-master" / "?authenticate_agents").write_text("")
    (tmp_path / "mesos-slave").mkdir()
    (tmp_path / "mesos-slave" / "work_dir").write_text("/var/lib/mesos/agent\n")
    assert mesos_standin.wrapper_arguments("master", str(tmp_path)) == [
        "--zk=" + ZK, "--authenticate_agents", "--quorum=2"]
    assert mesos_standin.wrapper_arguments("slave", str(tmp_path)) == [
        "--master=" + ZK, "--work_dir=/var/lib/mesos/agent"]


def test_zk_urls():
    assert zkclient.parse_zk_url("zk://u:p@a:1,b/mesos/") == ([("a", 1), ("b", 2181)], "/mesos")
    with pytest.raises(ValueError):
        zkclient.parse_zk_url("http://a:1/mesos")


def test_agent_id_is_checkpointed_in_work_dir(tmp_path):
    flags = {"master": "m:5050", "work_dir": str(tmp_path)}
    first = mesos_standin.Agent(flags).id
    assert mesos_standin.Agent(flags).id == first
    assert (tmp_path / "meta" / "slaves" / "latest").read_text().strip() == first
