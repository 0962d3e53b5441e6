"""Drive the shepherd.fleet Ansible collection from Python.

    import shepherd
    result = shepherd.run("playbooks/site.yml", "inventories/lab/hosts.yml", limit="masters")
    if not result.ok:
        for task in result.failed_tasks:
            print(task.host, task.task, task.message)

`run` (shepherd.runner) runs one playbook through ansible-runner and returns a `Result` (shepherd.result);
`shepherd.lab` brings the local lab up and down; `shepherd.cli` is the `shepherd` command.
"""

from shepherd.result import FailedTask, HostStats, Result
from shepherd.runner import AnsibleNotFound, InventoryNotFound, PlaybookNotFound, run

__version__ = "0.1.0"
__all__ = ["AnsibleNotFound", "FailedTask", "HostStats", "InventoryNotFound", "PlaybookNotFound", "Result", "run"]
