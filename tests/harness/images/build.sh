#!/usr/bin/env bash
# Builds the systemd host images the Molecule scenarios and the lab run on: shepherd/host:debian12 and
# shepherd/host:debian13. No registry is needed: where one answers, `docker build` from Dockerfile; else
# debootstrap + `docker import` (stop signal SIGRTMIN+3 is set by whoever starts the host). An image is rebuilt only when its recipe (this folder) changes: the
# recipe's hash is stored in the image's label shepherd.recipe.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache_proxy=${SHEPHERD_APT_PROXY:-http://127.0.0.1:3142}

# Packages every test host needs for Ansible, systemd and apt over the package cache.
packages=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,iproute2,iputils-ping,procps,ca-certificates,gnupg,curl,less,netbase,cron

recipe_hash() {
    (cat "$here/build.sh" "$here/Dockerfile" "$here/apt-proxy-detect" "$here/dpkg-test-host.cfg"; echo "$1") | sha256sum | cut -c1-16
}

image_current() {  # image, hash
    [ "$(docker image inspect -f '{{ index .Config.Labels "shepherd.recipe" }}' "$1" 2>/dev/null)" = "$2" ]
}

sources_for() {  # suite
    cat <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: $1 $1-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $1-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
}

build_with_debootstrap() {  # suite, image, hash
    local suite=$1 image=$2 hash=$3 root
    root=$(mktemp -d /var/tmp/shepherd-rootfs.XXXXXX)
    echo "debootstrap $suite into $root (through $cache_proxy when it answers)"
    local proxy_env=()
    if timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/3142" 2>/dev/null; then proxy_env=(http_proxy="$cache_proxy"); fi
    env "${proxy_env[@]}" debootstrap --variant=minbase --include="$packages" "$suite" "$root" \
        http://deb.debian.org/debian >"$root.log" 2>&1 || { tail -30 "$root.log"; exit 1; }
    rm -f "$root.log"
    rm -f "$root/etc/apt/sources.list"
    sources_for "$suite" >"$root/etc/apt/sources.list.d/debian.sources"
    install -m 0755 "$here/apt-proxy-detect" "$root/usr/local/lib/apt-proxy-detect"
    install -m 0644 "$here/dpkg-test-host.cfg" "$root/etc/dpkg/dpkg.cfg.d/shepherd-test-host"
    echo 'Acquire::Languages "none";' >"$root/etc/apt/apt.conf.d/30no-translations"
    echo 'Acquire::http::Proxy-Auto-Detect "/usr/local/lib/apt-proxy-detect";' >"$root/etc/apt/apt.conf.d/30proxy-detect"
    # A container has no consoles, udev or kernel modules to manage; these units only slow boot down, and
    # nvmf-autoconnect (nvme-cli, which Ceph pulls in) fails without /dev/nvme-fabrics, leaving hosts "degraded".
    for unit in getty@tty1.service console-getty.service systemd-udevd.service systemd-udev-trigger.service \
        systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount systemd-firstboot.service \
        systemd-remount-fs.service nvmf-autoconnect.service; do
        ln -sf /dev/null "$root/etc/systemd/system/$unit"
    done
    : >"$root/etc/machine-id"
    chroot "$root" apt-get clean
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
    # An empty, ancient package list: the first `apt` with cache_valid_time refreshes it, as on a new server.
    touch -d @0 "$root/var/lib/apt/lists"
    tar -C "$root" -c . | docker import \
        --change 'ENV container=docker' \
        --change 'CMD ["/lib/systemd/systemd"]' \
        --change "LABEL shepherd.recipe=$hash shepherd.suite=$suite" \
        - "$image" >/dev/null
    rm -rf "$root"
}

build_with_dockerfile() {  # suite, image, hash
    docker build -q --build-arg "SUITE=$1" --label "shepherd.recipe=$3" --label "shepherd.suite=$1" \
        -t "$2" "$here" >/dev/null
}

registry_answers() {
    timeout 20 docker pull -q debian:bookworm-slim >/dev/null 2>&1
}

build() {  # suite, tag
    local suite=$1 image=shepherd/host:$2 hash
    hash=$(recipe_hash "$suite")
    if image_current "$image" "$hash"; then
        echo "$image is current (recipe $hash)"
        return
    fi
    local started=$SECONDS
    if [ "${SHEPHERD_IMAGE_METHOD:-auto}" = dockerfile ] || { [ "${SHEPHERD_IMAGE_METHOD:-auto}" = auto ] && registry_answers; }; then
        build_with_dockerfile "$suite" "$image" "$hash"
    else
        build_with_debootstrap "$suite" "$image" "$hash"
    fi
    echo "$image built in $((SECONDS - started)) s (recipe $hash)"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(debian12 debian13)
for target in "${targets[@]}"; do
    case $target in
        debian12) build bookworm debian12 & ;;
        debian13) build trixie debian13 & ;;
        *) echo "unknown image $target (debian12, debian13)" >&2; exit 2 ;;
    esac
done
status=0
for job in $(jobs -p); do wait "$job" || status=1; done
exit $status
