#!/usr/bin/env bash
# Prepares this machine (a fresh Debian 12, as root) to run the tests and the local lab. Idempotent:
# every step checks what is already there. Steps:
#   1. Debian packages: Docker engine, debootstrap, apt-cacher-ng (a .deb cache for the test hosts)
#   2. a running Docker engine (the running one, else dockerd started here)
#   3. .venv with the shepherd package and its test extra, at the pinned versions of tests/constraints.txt
#   4. the Galaxy collections we depend on, taken from the pinned `ansible` package on PyPI
#   5. ansible-test's pip bootstrap, provided locally (its download host is unreachable here)
#   6. the systemd host images (tests/harness/images/build.sh, rebuilt only when their recipe changes; built
#      in the background from step 2 on)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
ANSIBLE_BUNDLE_VERSION=12.3.0   # the `ansible` release whose collections we pin
COLLECTIONS=(ansible/posix community/docker community/library_inventory_filtering_v1 community/general community/crypto)

step() { printf '\n== setup: %s\n' "$*"; }

step "Debian packages"
need=()
for pkg in docker.io debootstrap apt-cacher-ng python3-venv git make curl rsync iproute2 shellcheck; do
    dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q 'ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

step "package cache (apt-cacher-ng on port 3142)"
# Debian's default backend (ftp.debian.org) may not resolve; deb.debian.org always does.
if ! grep -qx 'http://deb.debian.org/debian/' /etc/apt-cacher-ng/backends_debian 2>/dev/null; then
    echo 'http://deb.debian.org/debian/' >/etc/apt-cacher-ng/backends_debian
    /etc/init.d/apt-cacher-ng restart >/dev/null 2>&1 || true
fi
if ! timeout 1 bash -c 'exec 3<>/dev/tcp/127.0.0.1/3142' 2>/dev/null; then
    /etc/init.d/apt-cacher-ng start >/dev/null 2>&1 || echo "apt-cacher-ng did not start: test hosts download directly"
fi

step "Docker engine"
if ! docker info >/dev/null 2>&1; then
    if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
        systemctl start docker
    else
        nohup dockerd >/var/log/dockerd.log 2>&1 &
    fi
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
fi
docker info --format 'Docker {{.ServerVersion}}, storage {{.Driver}}, cgroup v{{.CgroupVersion}}'

step "systemd host images (built in the background while the Python tools install)"
mkdir -p .cache/logs
tests/harness/images/build.sh >.cache/logs/images.log 2>&1 &
images_job=$!

step "kernel limits for many systemd test hosts"
# Every systemd host holds several inotify instances, all counted against root: the default limit (128)
# runs out at about 20 hosts, and systemd in the next one then fails to boot ("Failed to connect to bus").
for setting in fs.inotify.max_user_instances=8192 fs.inotify.max_user_watches=1048576; do
    key=${setting%=*} want=${setting#*=}
    if [ "$(sysctl -n "$key")" -lt "$want" ]; then
        sysctl -q -w "$setting" || echo "could not raise $key: many test hosts at once may fail to boot"
    fi
done

step "virtualenv .venv"
if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
stamp=.venv/.shepherd-installed
want=$(cat pyproject.toml tests/constraints.txt | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    .venv/bin/pip install -q --disable-pip-version-check -U pip wheel
    .venv/bin/pip install -q --disable-pip-version-check -c tests/constraints.txt -e '.[test,lab]'
    echo "$want" >"$stamp"
fi

step "collections from ansible==$ANSIBLE_BUNDLE_VERSION"
mkdir -p .cache/collections/ansible_collections/shepherd .cache/wheels
ln -sfn "$repo" .cache/collections/ansible_collections/shepherd/fleet
if [ "$(cat .cache/collections/.bundle 2>/dev/null)" != "$ANSIBLE_BUNDLE_VERSION ${COLLECTIONS[*]}" ]; then
    .venv/bin/pip download -q --no-deps -d .cache/wheels "ansible==$ANSIBLE_BUNDLE_VERSION"
    .venv/bin/python - "$ANSIBLE_BUNDLE_VERSION" "${COLLECTIONS[@]}" <<'PY'
import pathlib, shutil, sys, zipfile
version, wanted = sys.argv[1], sys.argv[2:]
wheel = next(pathlib.Path(".cache/wheels").glob(f"ansible-{version}-*.whl"))
target = pathlib.Path(".cache/collections")
with zipfile.ZipFile(wheel) as archive:
    for name in wanted:
        shutil.rmtree(target / "ansible_collections" / name, ignore_errors=True)
        prefix = f"ansible_collections/{name}/"
        archive.extractall(target, [m for m in archive.namelist() if m.startswith(prefix)])
        print(f"  {name.replace('/', '.')} from {wheel.name}")
PY
    echo "$ANSIBLE_BUNDLE_VERSION ${COLLECTIONS[*]}" >.cache/collections/.bundle
fi

step "ansible-test sanity, offline"
# Sanity tests build their own venvs and bootstrap pip with a script ansible-test downloads from a host
# we cannot reach. It looks in its cache first: put there a stand-in script that runs pip from the wheel
# of the same version, fetched from PyPI.
pip_version=$(grep -oP "pip='\K[0-9.]+" .venv/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py | head -1)
get_pip=~/.ansible/test/cache/get_pip_${pip_version//./_}.py
if [ ! -f "$get_pip" ]; then
    mkdir -p ~/.ansible/test/cache
    .venv/bin/pip download -q --no-deps -d ~/.ansible/test/cache "pip==$pip_version"
    cat >"$get_pip" <<PY
# Offline replacement for ansible-test's get-pip-$pip_version.py (written by shepherd's scripts/setup.sh):
# runs pip $pip_version from its wheel, as get-pip.py does, to install pip into a new venv.
import os, sys
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "pip-$pip_version-py3-none-any.whl"))
from pip._internal.cli.main import main
# get-pip.py's own options; pip itself does not know them.
args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
sys.exit(main(["install", "--upgrade", "--force-reinstall"] + args))
PY
fi

step "Molecule 26 looks for scenarios in extensions/molecule inside a collection: point it at molecule/"
mkdir -p extensions
ln -sfn ../molecule extensions/molecule

step "systemd host images"
if ! wait "$images_job"; then cat .cache/logs/images.log; echo "image build failed"; exit 1; fi
cat .cache/logs/images.log
echo "setup done"
