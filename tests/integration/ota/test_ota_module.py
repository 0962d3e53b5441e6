"""shepherd.fleet.ota_update through ansible-playbook on localhost: check mode, diff, apply, idempotence, a
failing health check rolling back, a refused downgrade, recover and rollback."""

import os

import otakit

HEALTHY = {"command": "test -x app", "timeout": 10, "attempts": 1, "interval": 0}
FAILING = {"command": "echo unhealthy; exit 1", "timeout": 10, "attempts": 2, "interval": 0}


def task(name, **args):
    out = {"name": name, "shepherd.fleet.ota_update": args}
    return out


def test_module_check_diff_apply_idempotence_rollback(tmp_path, playbook):
    fw, root = tmp_path / "fw", str(tmp_path / "root")
    v1 = otakit.make_release(fw, "1.0", 1, {"app": b"app 1", "lib": b"lib"}, HEALTHY)
    v2 = otakit.make_release(fw, "2.0", 2, {"app": b"app 2", "lib": b"lib"}, HEALTHY, versions={"lib": "1.0"})
    bad = otakit.make_release(fw, "3.0", 3, {"app": b"app 3", "lib": b"lib"}, FAILING)
    rc, res = playbook(tmp_path, [dict(task("check 1.0", root=root, manifest_url=v1), check_mode=True, diff=True)])
    check = res["check 1.0"]
    assert rc == 0 and check["changed"] and check["result"] == "would_update"
    assert not os.path.exists(root)  # check mode wrote nothing
    assert check["diff"]["before"] == "(no running set)\n" and "app: 1.0" in check["diff"]["after"]
    tasks = [
        task("apply 1.0", root=root, manifest_url=v1),
        task("apply 1.0 again", root=root, manifest_url=v1),
        dict(task("check 2.0", root=root, manifest_url=v2), check_mode=True, diff=True),
        dict(task("apply 2.0", root=root, manifest_url=v2), diff=True),
        dict(task("apply 3.0 (unhealthy)", root=root, manifest_url=bad), ignore_errors=True),
        dict(task("downgrade to 1.0", root=root, manifest_url=v1), ignore_errors=True),
        task("recover", root=root, state="recovered"),
        dict(task("check rollback", root=root, state="rolled_back"), check_mode=True),
        task("rollback", root=root, state="rolled_back"),
        dict(task("missing manifest_url", root=root), ignore_errors=True),
    ]
    rc, res = playbook(tmp_path, tasks)
    assert rc == 0, res
    assert res["apply 1.0"]["changed"] and res["apply 1.0"]["status"]["running"]["release"] == "1.0"
    assert not res["apply 1.0 again"]["changed"] and res["apply 1.0 again"]["result"] == "current"
    check2 = res["check 2.0"]
    assert check2["changed"] and [a["action"] for a in check2["plan"]["programs"]] == ["download", "keep"]
    assert "release: 1.0" in check2["diff"]["before"] and "release: 2.0" in check2["diff"]["after"]
    assert "lib: 1.0" in check2["diff"]["after"] and "app: 2.0" in check2["diff"]["after"]
    assert res["apply 2.0"]["changed"] and res["apply 2.0"]["status"]["backup"]["release"] == "1.0"
    unhealthy = res["apply 3.0 (unhealthy)"]
    assert unhealthy["failed"] and unhealthy["rolled_back"] and "failed 2 times in a row" in unhealthy["msg"]
    assert unhealthy["status"]["running"]["release"] == "2.0"
    down = res["downgrade to 1.0"]
    assert down["failed"] and "sequence: 1 is not higher than the running sequence 2" in down["msg"]
    assert not res["recover"]["changed"]
    assert res["check rollback"]["changed"] and res["check rollback"]["status"]["running"]["release"] == "2.0"
    assert res["rollback"]["status"]["running"]["release"] == "1.0"
    assert "manifest_url" in res["missing manifest_url"]["msg"]
    otakit.check_invariant(root, [("1.0", "2.0")])
