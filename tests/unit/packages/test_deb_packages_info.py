"""shepherd.fleet.deb_packages_info's logic: apt-style specs, dpkg-query's output, and which specs are missing."""

import pytest

from ansible_collections.shepherd.fleet.plugins.modules.deb_packages_info import missing_specs, parse_query, parse_spec

QUERY = (
    "consul\tamd64\t1.8.7+dfsg1-3\tinstalled\n"
    "dnsmasq\tall\t2.89-1\tconfig-files\n"          # removed, configuration kept: missing
    "libc6\tamd64\t2.36-9\tinstalled\n"
    "libc6\ti386\t2.36-9\tinstalled\n"              # multi-arch: two rows for one name
    "ceph-common\tamd64\t16.2.15\thalf-configured\n"
)


def parsed(*specs):
    return [(spec,) + parse_spec(spec) for spec in specs]


@pytest.mark.parametrize("spec, expected", [
    ("docker.io", ("docker.io", None, None)),
    ("libc6:i386", ("libc6", "i386", None)),
    ("consul=1.8.7*", ("consul", None, "1.8.7*")),
    ("aventer-mesos=1.11.0-*", ("aventer-mesos", None, "1.11.0-*")),
    ("g++:amd64=4:12.2.0-3", ("g++", "amd64", "4:12.2.0-3")),
])
def test_specs_as_apt_takes_them(spec, expected):
    assert parse_spec(spec) == expected


@pytest.mark.parametrize("spec", ["", "Docker", "a", "foo>=1.0", "foo bar", "foo=", "foo=1=2", "-foo"])
def test_anything_else_is_refused(spec):
    with pytest.raises(ValueError):
        parse_spec(spec)


def test_only_installed_rows_count():
    rows = parse_query(QUERY)
    assert set(rows) == {"consul", "libc6"}
    assert rows["libc6"] == [("amd64", "2.36-9"), ("i386", "2.36-9")]


def test_missing_keeps_the_specs_as_given_and_in_order():
    rows = parse_query(QUERY)
    specs = parsed("dnsmasq", "consul", "ceph-common", "zookeeper", "libc6")
    assert missing_specs(specs, rows) == ["dnsmasq", "ceph-common", "zookeeper"]


@pytest.mark.parametrize("spec, is_missing", [
    ("consul=1.8.7*", False),
    ("consul=1.8.7+dfsg1-3", False),
    ("consul=1.8.?+dfsg1-3", False),
    ("consul=1.9*", True),             # another version is installed: apt must change it
    ("consul=1.8.7", True),            # an exact version is exact
    ("libc6:i386", False),
    ("libc6:arm64", True),
    ("consul:amd64=1.8*", False),
])
def test_versions_and_architectures(spec, is_missing):
    assert missing_specs(parsed(spec), parse_query(QUERY)) == ([spec] if is_missing else [])


def test_architecture_all_satisfies_any_architecture():
    rows = parse_query("python3-debian\tall\t0.1.49\tinstalled\n")
    assert missing_specs(parsed("python3-debian:amd64"), rows) == []
