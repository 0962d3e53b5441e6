#!/usr/bin/env bash
# ansible-test sanity needs the collection at .../ansible_collections/shepherd/fleet: copy the files git
# tracks (plus new, unignored ones) there and run it (setup.sh made its pip bootstrap work offline).
# Each run gets its own copy, so several runs can go on side by side.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .cache
work=$(mktemp -d "$PWD/.cache/sanity.XXXXXX")
trap 'rm -rf "$work"' EXIT
dest=$work/ansible_collections/shepherd/fleet
mkdir -p "$dest"
git ls-files -z --cached --others --exclude-standard | rsync -a --from0 --files-from=- ./ "$dest/"
cd "$dest"
git init -q && git add -A   # ansible-test lists the files to check through git
ansible-test sanity --python 3.11 --color no "$@"
