"""`shepherd lab up | down | status`: the local lab from the command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from shepherd.exitcodes import ExitCode
from shepherd.lab import Lab, LabError, LabSpec
from shepherd.lab.mitogen import mitogen_environment
from shepherd.play_command import add_run_options, execute, print_error

DEFAULT_INVENTORY_DIR = Path("inventories/lab")
# The lab's stand-ins and test services, site.yml (every layer, the sample apps) and the firmware rollout.
DEFAULT_PLAYBOOK = Path("tests/lab/lab.yml")


def add_lab_parsers(lab: argparse.ArgumentParser, defaults: LabSpec) -> None:
    """The lab's subcommands and their options; DEFAULTS supplies the sizes (SHEPHERD_LAB_* applied)."""
    commands = lab.add_subparsers(dest="lab_command", metavar="{up,down,status}", required=True)
    up = commands.add_parser(
        "up", help="create or reuse the lab's hosts, write its inventory, run the datacenter playbook, show the status"
    )
    down = commands.add_parser("down", help="remove every container, volume and network the lab created")
    status = commands.add_parser("status", help="list the lab's hosts and the endpoints of its services")
    for parser in (up, down, status):
        parser.add_argument("--name", default=defaults.name, help=f"the lab's name (default {defaults.name})")
        parser.add_argument(
            "--inventory-dir", type=Path, default=DEFAULT_INVENTORY_DIR,
            help=f"where the lab's hosts.yml goes (default {DEFAULT_INVENTORY_DIR})",
        )  # fmt: skip
    for group, what in (
        ("masters", "ZooKeeper, Mesos masters, Marathon, Consul servers"),
        ("agents", "Mesos agents that run the containers"),
        ("storage", "Ceph storage hosts"),
        ("devices", "smart-hardware device hosts for the OTA work"),
    ):
        default = defaults.size(group)
        up.add_argument(f"--{group}", type=int, default=default, metavar="N", help=f"{what} (default {default})")
    up.add_argument("--subnet", default=defaults.subnet, help=f"the lab network (default {defaults.subnet})")
    up.add_argument("--datacenter-image", default=defaults.datacenter_image, help="image of the datacenter hosts")
    up.add_argument("--device-image", default=defaults.device_image, help="image of the device hosts")
    up.add_argument("--playbook", type=Path, default=DEFAULT_PLAYBOOK,
                    help=f"what to run against the lab (default {DEFAULT_PLAYBOOK})")  # fmt: skip
    up.add_argument("--no-converge", action="store_true", help="only create the hosts and the inventory")
    up.add_argument(
        "--no-mitogen", action="store_true",
        help="run the playbook with plain Ansible even when Mitogen is installed (it is used by default then)",
    )  # fmt: skip
    add_run_options(up)
    status.add_argument("--json", action="store_true", help="print the status as JSON")
    up.set_defaults(handler=lab_up)
    down.set_defaults(handler=lab_down)
    status.set_defaults(handler=lab_status)


def spec_from(args: argparse.Namespace) -> LabSpec:
    """The lab the command line describes (down and status only need its name)."""
    defaults = LabSpec()
    return LabSpec(
        name=args.name,
        masters=getattr(args, "masters", defaults.masters),
        agents=getattr(args, "agents", defaults.agents),
        storage=getattr(args, "storage", defaults.storage),
        devices=getattr(args, "devices", defaults.devices),
        subnet=getattr(args, "subnet", defaults.subnet),
        datacenter_image=getattr(args, "datacenter_image", defaults.datacenter_image),
        device_image=getattr(args, "device_image", defaults.device_image),
    )


def lab_up(args: argparse.Namespace, console: Console) -> int:
    """Bring the lab up (reusing what exists), then run the playbook against it unless --no-converge."""
    log = Console(stderr=True) if args.json else console
    if not args.no_converge and not args.playbook.is_file():
        print_error(f"playbook not found: {args.playbook} (use --playbook, or --no-converge to only create hosts)")
        return ExitCode.USAGE
    lab = Lab(spec_from(args), args.inventory_dir / "hosts.yml", log=lambda line: log.print(line, highlight=False, soft_wrap=True))
    try:
        report = lab.up()
    except LabError as error:
        print_error(f"lab {args.name}: {error}")
        return ExitCode.ERROR
    if args.json:
        print(json.dumps({"type": "lab", "name": args.name, **dataclasses.asdict(report)}, default=str), flush=True)
    else:
        log.print(
            f"lab {args.name}: {len(report.created)} created, {len(report.started)} started, "
            f"{len(report.reused)} reused; network {'created' if report.network_created else 'reused'}; "
            f"inventory {report.inventory} {'written' if report.inventory_changed else 'unchanged'}",
            highlight=False,
            soft_wrap=True,
        )
        if report.extra:
            log.print(f"also in this lab, beyond the current sizes: {', '.join(report.extra)}", highlight=False, soft_wrap=True)
    if args.no_converge:
        return ExitCode.OK
    # The inventory is the folder: the generated hosts.yml, the layers' groups (layers.yml) and group_vars.
    envvars = {} if args.no_mitogen else mitogen_environment()
    if envvars and not args.json:
        log.print("running with Mitogen (--no-mitogen to run without it)", highlight=False)
    code = execute(args, args.playbook, args.inventory_dir, console, envvars=envvars)
    if code == ExitCode.OK and not args.json:
        print_status(lab, console)
    return code


def lab_down(args: argparse.Namespace, console: Console) -> int:
    """Remove the lab's containers, volumes and network, and its inventory file."""
    lab = Lab(spec_from(args), args.inventory_dir / "hosts.yml")
    try:
        report = lab.down()
    except LabError as error:
        print_error(f"lab {args.name}: {error}")
        return ExitCode.ERROR
    console.print(
        f"lab {args.name}: removed {len(report.containers)} containers, {len(report.volumes)} leftover volumes, "
        f"{len(report.networks)} networks{', the inventory' if report.inventory_removed else ''}",
        highlight=False,
        soft_wrap=True,
    )
    return ExitCode.OK


def lab_status(args: argparse.Namespace, console: Console) -> int:
    """List the lab's hosts, the service endpoints that answer, the apps' tasks and the devices' firmware."""
    lab = Lab(spec_from(args), args.inventory_dir / "hosts.yml")
    if args.json:
        try:
            hosts, endpoints = lab.status()
            apps, firmware = lab.apps(endpoints), lab.firmware(hosts)
        except LabError as error:
            print_error(f"lab {args.name}: {error}")
            return ExitCode.ERROR
        data = {"name": args.name, "hosts": [dataclasses.asdict(h) for h in hosts],
                "endpoints": [dataclasses.asdict(e) for e in endpoints],
                "apps": [dataclasses.asdict(t) for t in apps], "firmware": firmware}  # fmt: skip
        sys.stdout.write(json.dumps(data) + "\n")
        return ExitCode.OK
    return print_status(lab, console)


def print_status(lab: Lab, console: Console) -> int:
    """Print the lab's status tables: hosts, service endpoints, the apps' tasks, the devices' firmware."""
    name = lab.spec.name
    try:
        hosts, endpoints = lab.status()
    except LabError as error:
        print_error(f"lab {name}: {error}")
        return ExitCode.ERROR
    if not hosts:
        console.print(f"lab {name} does not exist (`shepherd lab up` creates it)", highlight=False)
        return ExitCode.OK
    rows = [(h.name, h.group, h.address, h.container, h.image, h.state, h.systemd) for h in hosts]
    print_table(console, f"lab {name}", ("host", "group", "address", "container", "image", "state", "systemd"), rows)
    if not endpoints:
        console.print("no service endpoints answer yet", highlight=False)
        return ExitCode.OK
    print_table(console, "endpoints", ("service", "host", "url"), [(e.service, e.host, e.url) for e in endpoints])
    apps = lab.apps(endpoints)
    if apps:
        rows = [(t.app, t.host, t.addresses, t.state) for t in apps]
        print_table(console, "Marathon apps (on the Mesos and Marathon STAND-INS)", ("app", "host", "addresses", "state"), rows)
    firmware = lab.firmware(hosts)
    if firmware:
        print_table(console, "devices", ("device", "firmware release"), sorted(firmware.items()))
    return ExitCode.OK


def print_table(console: Console, title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """One titled table."""
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)
