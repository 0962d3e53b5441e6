# -*- coding: utf-8 -*-
# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""ota-agent's command line, a stable contract for operators and tests (docs/ota.md):

    ota-agent --root DIR apply MANIFEST_URL    exit 0 when updated or already current, else non-zero
    ota-agent --root DIR status [--json]       running and backup sets, last result
    ota-agent --root DIR recover | rollback
    ota-agent --self-test                      a whole update cycle in a scratch directory
    ota-agent manifest FILES... | bundle OUT.pyz | serve DIR   (the publisher's side)

launch() is the installed entry point: it runs ROOT/agent/current (the agent of the last self-update) when
that file is intact and not older than this code, else ROOT/agent/fallback likewise, else this code."""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import shutil
import sys
import tempfile

from .ota_engine import DEFAULT_ROOT, Engine
from .ota_errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, OtaError
from .ota_manifest import make_manifest
from .ota_selfupdate import bundle, launcher_choice

__metaclass__ = type

# Bump with every change to the engine: the launcher runs the newest agent (ota_selfupdate.launcher_choice).
AGENT_VERSION = "1.0.1"
DELEGATED = "OTA_AGENT_DELEGATED"  # set when the launcher handed over to agent/current or agent/fallback
PREFER_INSTALLED = "OTA_AGENT_PREFER_INSTALLED"  # "1": run the installed agent even when a newer self-update exists


def _out(text):
    """ota-agent's output on stdout (JSON or text lines)."""
    sys.stdout.write("%s\n" % text)


def self_test():
    """A whole update cycle (apply, current, update, rollback, recover) by this code in a scratch directory."""
    report = {"version": AGENT_VERSION, "python": sys.version.split()[0], "file": os.path.abspath(__file__)}
    work = tempfile.mkdtemp(prefix="ota-self-test-")
    try:
        urls = []
        for number in (1, 2):
            data = os.path.join(work, "v%d" % number)
            os.mkdir(data)
            path = os.path.join(data, "prog")
            with open(path, "wb") as handle:
                handle.write((b"self-test %d\n" % number) * 100)
            doc = make_manifest([path], "self-test-%d" % number, number, health_command="test -s prog")
            with open(os.path.join(data, "manifest.json"), "w") as handle:
                json.dump(doc, handle)
            urls.append("file://" + os.path.join(data, "manifest.json"))
        engine = Engine(os.path.join(work, "root"), health_interval=0)
        checks = [engine.apply(urls[0])["result"] == "updated", engine.apply(urls[0])["result"] == "current",
                  engine.apply(urls[1])["result"] == "updated",
                  engine.status()["backup"]["release"] == "self-test-1",
                  engine.rollback()["after"]["release"] == "self-test-1",
                  engine.recover()["running"]["release"] == "self-test-1",
                  engine.slots.verify(engine.slots.link_slot("running"), deep=True) is None]
        report["ok"] = all(checks)
        if not report["ok"]:
            report["error"] = "checks: %r" % checks
    except Exception as exc:  # pylint: disable=broad-except
        report["ok"] = False
        report["error"] = "%s: %s" % (type(exc).__name__, exc)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return report


def _parser():
    parser = argparse.ArgumentParser(prog="ota-agent", description="Slot-based, checksum-verified firmware updates.")
    parser.add_argument("--root", default=os.environ.get("OTA_ROOT", DEFAULT_ROOT), help="device root (default %(default)s)")
    parser.add_argument("--self-test", action="store_true", help="run a whole update cycle in a scratch directory")
    parser.add_argument("--version", action="store_true", help="print the agent's version and file")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--timeout", type=float, default=30, help="network timeout in seconds (default 30)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress messages on stderr")
    sub = parser.add_subparsers(dest="command")
    apply_p = sub.add_parser("apply", help="apply the manifest at MANIFEST_URL (http, https, file)")
    apply_p.add_argument("manifest_url")
    apply_p.add_argument("--allow-downgrade", action="store_true", help="accept a sequence not above the running one")
    apply_p.add_argument("--retry-rejected", action="store_true", help="apply a manifest that was rolled back before")
    apply_p.add_argument("--signature-url", help="detached Ed25519 signature (default MANIFEST_URL.sig)")
    apply_p.add_argument("--trusted-key", action="append", default=[], help="trusted public key (PEM); repeatable")
    apply_p.add_argument("--trusted-keys-dir", help="directory of trusted *.pem public keys")
    apply_p.add_argument("--health-timeout", type=float, help="override the manifest's health.timeout")
    apply_p.add_argument("--health-attempts", type=int, help="override the manifest's health.attempts")
    apply_p.add_argument("--health-interval", type=float, help="override the manifest's health.interval")
    status_p = sub.add_parser("status", help="running and backup sets, last result")
    status_p.add_argument("--json", action="store_true", dest="status_json", help="print JSON")
    status_p.add_argument("--verify", action="store_true", help="also check every program's hashes")
    sub.add_parser("recover", help="finish or undo an interrupted operation (run at boot)")
    sub.add_parser("rollback", help="make the backup set the running one")
    man_p = sub.add_parser("manifest", help="print a manifest for FILES (publisher's tool)")
    man_p.add_argument("files", nargs="+")
    man_p.add_argument("--release", required=True)
    man_p.add_argument("--sequence", type=int, required=True)
    man_p.add_argument("--base-url", default="")
    man_p.add_argument("--health-command")
    man_p.add_argument("--health-timeout", type=float, default=60)
    man_p.add_argument("--agent", help="the file (basename) that is the agent itself")
    man_p.add_argument("--program-version", action="append", default=[], metavar="NAME=VERSION")
    bundle_p = sub.add_parser("bundle", help="write this agent as a zip application (a program for self-update)")
    bundle_p.add_argument("output")
    bundle_p.add_argument("--agent-version", help="the version the bundle reports (default: this agent's)")
    serve_p = sub.add_parser("serve", help="serve a directory over HTTP with Range support")
    serve_p.add_argument("directory")
    serve_p.add_argument("--port", type=int, default=8080)
    serve_p.add_argument("--bind", default="0.0.0.0")
    return parser


def _print_status(result):
    for key in ("running", "backup"):
        info = result.get(key)
        if not info:
            _out("%-8s none" % key)
            continue
        problem = (" PROBLEM: " + info["problem"]) if info.get("problem") else ""
        _out("%-8s release %s, sequence %s, slot %s%s" % (key, info["release"], info["sequence"], info["slot"], problem))
        for prog in info["programs"]:
            _out("           %-24s %-12s md5 %s" % (prog["name"], prog["version"], prog["md5"]))
    last = result.get("last_result") or {}
    _out("last     %s%s" % (last.get("result"), (": " + last["error"]) if last.get("error") else ""))
    if result.get("pending"):
        _out("pending  %s" % json.dumps(result["pending"], sort_keys=True))


def _print_result(args, result):
    if args.json or getattr(args, "status_json", False):
        _out(json.dumps(result, indent=1, sort_keys=True))
    elif args.command == "status":
        _print_status(result)
    elif not args.quiet:
        after = result.get("after") or result.get("running") or {}
        _out("%s: release %s, sequence %s" % (result.get("result"), after.get("release"), after.get("sequence")))


def _publish(args):
    if args.command == "manifest":
        versions = dict(v.split("=", 1) for v in args.program_version)
        doc = make_manifest(args.files, args.release, args.sequence, args.base_url, args.health_command,
                            args.health_timeout, args.agent, versions)
        _out(json.dumps(doc, indent=1, sort_keys=True))
    elif args.command == "bundle":
        bundle(os.path.abspath(args.output), args.agent_version)
    else:
        from .ota_serve import serve  # pylint: disable=import-outside-toplevel
        serve(args.directory, args.port, args.bind)
    return EXIT_OK


def main(argv=None, step_hook=None, chunk=None):
    """Run the command line; returns the exit code. step_hook and chunk are for the fault-injection tests."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.version:
        _out("ota-agent %s (%s, python %s)" % (AGENT_VERSION, os.path.abspath(__file__), sys.version.split()[0]))
        return EXIT_OK
    if args.self_test:
        report = self_test()
        _out(json.dumps(report, sort_keys=True))
        return EXIT_OK if report["ok"] else EXIT_FAILED
    if args.command is None:
        parser.print_usage(sys.stderr)
        return EXIT_USAGE

    def log(msg):
        if not args.quiet:
            sys.stderr.write("ota-agent: %s\n" % msg)

    try:
        if args.command in ("manifest", "bundle", "serve"):
            return _publish(args)
        kwargs = {}
        if args.command == "apply":
            kwargs = dict(trusted_keys=args.trusted_key, keys_dir=args.trusted_keys_dir,
                          health_timeout=args.health_timeout, health_attempts=args.health_attempts,
                          health_interval=args.health_interval)
        engine = Engine(args.root, step_hook=step_hook, log=log, timeout=args.timeout, chunk=chunk, **kwargs)
        if args.command == "apply":
            result = engine.apply(args.manifest_url, args.allow_downgrade, args.retry_rejected, args.signature_url)
        elif args.command == "status":
            result = engine.status(deep=args.verify)
        elif args.command == "recover":
            result = engine.recover()
        else:
            result = engine.rollback()
        result["agent_version"] = AGENT_VERSION
        result["agent_running"] = os.environ.get(DELEGATED) or "installed"  # current, fallback or installed
        _print_result(args, result)
        return EXIT_OK
    except OtaError as exc:
        log("error: %s" % exc)
        if args.json or getattr(args, "status_json", False):
            _out(json.dumps({"result": "rolled_back" if exc.rolled_back else "failed", "error": str(exc)}))
        return exc.code
    except (OSError, ValueError) as exc:
        log("error: %s" % exc)
        if args.json:
            _out(json.dumps({"result": "failed", "error": str(exc)}))
        return EXIT_FAILED


def _root_from_argv(argv):
    for index, arg in enumerate(argv):
        if arg == "--root" and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith("--root="):
            return arg[len("--root="):]
    return os.environ.get("OTA_ROOT", DEFAULT_ROOT)


def launch(argv=None):
    """Entry point of the installed agent: hand over to ROOT/agent/current (else fallback) when it is intact and
    not older than this code (ota_selfupdate.launcher_choice); OTA_AGENT_PREFER_INSTALLED=1 keeps this code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not os.environ.get(DELEGATED):
        agent_dir = os.path.join(_root_from_argv(argv), "agent")
        link, notes = launcher_choice(agent_dir, AGENT_VERSION, os.environ.get(PREFER_INSTALLED) == "1")
        for note in notes:
            sys.stderr.write("ota-agent: %s\n" % note)
        if link is not None:
            path = os.path.join(agent_dir, link)
            python = sys.executable or "python3"
            try:
                os.execve(python, [python, "-S", path] + argv, dict(os.environ, **{DELEGATED: link}))
            except OSError as exc:
                sys.stderr.write("ota-agent: cannot run agent/%s: %s\n" % (link, exc))
    return main(argv)
