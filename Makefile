# The README's commands. Every target runs as root on a Debian 12 machine; `setup` is idempotent.
.PHONY: setup test lab lab-down lab-status lint sanity unit integration molecule build bench

setup:
	scripts/setup.sh

# Every test: yamllint, ansible-lint, sanity, unit, integration and every Molecule scenario.
test:
	scripts/test.sh

# Bring up the local lab and run the main job against it (tests/lab/lab.yml: the stand-ins, site.yml, the
# firmware rollout); ends with the status table. A second run changes nothing.
lab: setup
	.venv/bin/shepherd lab up

lab-down:
	.venv/bin/shepherd lab down

lab-status:
	.venv/bin/shepherd lab status

lint:
	scripts/test.sh yamllint ansible_lint

sanity:
	scripts/test.sh sanity

unit:
	scripts/test.sh unit

integration:
	scripts/test.sh integration

molecule:
	scripts/test.sh molecule

# The collection tarball, without tests, stand-ins or lab files.
build:
	.venv/bin/ansible-galaxy collection build --force --output-path build/
