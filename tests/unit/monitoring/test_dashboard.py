"""The shipped Grafana dashboards are valid and ask only for measurements and tags that really exist on their path.

Two paths carry cAdvisor's metrics into InfluxDB, each with its own schema and its own dashboard:

* cadvisor-remote-write.json: Prometheus scrapes cAdvisor's /metrics and remote-writes into InfluxDB (the path the
  collection delivers with Debian's cAdvisor). Measurement = Prometheus metric name, field "value", labels as
  tags. The metric names and label keys come from fixtures/cadvisor-0.38.7-metrics.txt, recorded from the
  monitoring scenario's cAdvisor with the role's defaults; the scenario's verifier also runs every query.
* cadvisor-influxdb-driver.json: cAdvisor's own influxdb storage driver (a binary built with it; Debian's is not).
"""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
DASHBOARDS = ROOT / "dashboards"
FIXTURE = pathlib.Path(__file__).resolve().parent / "fixtures" / "cadvisor-0.38.7-metrics.txt"

# Every measurement cAdvisor 0.38's influxdb storage driver writes (the ser* constants and makePoint calls of
# cmd/internal/storage/influxdb/influxdb.go in google/cadvisor), each point with one field, "value".
DRIVER_MEASUREMENTS = frozenset({
    "cpu_usage_total", "cpu_usage_system", "cpu_usage_user", "cpu_usage_per_cpu", "load_average",
    "memory_usage", "memory_max_usage", "memory_cache", "memory_rss", "memory_swap", "memory_mapped_file",
    "memory_working_set", "memory_failcnt", "memory_failure",
    "rx_bytes", "rx_errors", "tx_bytes", "tx_errors",
    "fs_limit", "fs_usage",
    "hugetlb_usage", "hugetlb_max_usage", "hugetlb_failcnt",
    "perf_stat", "referenced_memory",
    "resctrl_memory_bandwidth_total", "resctrl_memory_bandwidth_local", "resctrl_llc_occupancy",
})
# Tags the driver sets on every point (container labels come on top, but a dashboard cannot rely on them).
DRIVER_TAGS = frozenset({"machine", "container_name"})
# Driver measurements of the groups the role disables by default: a panel on them would stay empty.
DRIVER_DISABLED_BY_DEFAULT = frozenset({
    "cpu_usage_per_cpu", "fs_limit", "fs_usage", "hugetlb_usage", "hugetlb_max_usage", "hugetlb_failcnt", "perf_stat",
    "referenced_memory", "resctrl_memory_bandwidth_total", "resctrl_memory_bandwidth_local", "resctrl_llc_occupancy",
})
# Labels Prometheus adds to every scraped sample.
PROMETHEUS_TARGET_LABELS = frozenset({"instance", "job"})

SAMPLE = re.compile(r"^(?P<name>[A-Za-z_:][A-Za-z0-9_:]*)(\{(?P<labels>[^}]*)\})?\s")
LABEL = re.compile(r'(?P<key>[A-Za-z_][A-Za-z0-9_]*)="(?:[^"\\]|\\.)*"')
FROM = re.compile(r'\bFROM\s+("(?P<quoted>[^"]+)"|(?P<bare>[A-Za-z_][A-Za-z0-9_.]*))', re.IGNORECASE)
TAG_REFERENCE = re.compile(r'"(?P<tag>[A-Za-z_]+)"\s*(=~|!=|=|!~)|GROUP BY[^;]*|WITH KEY = "(?P<key>[A-Za-z_]+)"')


def exposition_schema(text):
    """{metric name: label keys} of a Prometheus text exposition."""
    schema = {}
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match:
            keys = {label.group("key") for label in LABEL.finditer(match.group("labels") or "")}
            schema.setdefault(match.group("name"), set()).update(keys)
    return schema


def remote_write_schema():
    """{measurement: tags} as Prometheus remote write stores cAdvisor's metrics in InfluxDB."""
    schema = exposition_schema(FIXTURE.read_text(encoding="utf-8"))
    return {name: frozenset(keys | PROMETHEUS_TARGET_LABELS) for name, keys in schema.items()}


def driver_schema():
    """{measurement: tags} as cAdvisor's influxdb driver writes them, minus the groups the role disables."""
    return {name: DRIVER_TAGS for name in DRIVER_MEASUREMENTS - DRIVER_DISABLED_BY_DEFAULT}


SCHEMAS = {
    "cadvisor-remote-write.json": remote_write_schema,
    "cadvisor-influxdb-driver.json": driver_schema,
}


def load(name):
    return json.loads((DASHBOARDS / name).read_text(encoding="utf-8"))


def queries(dashboard):
    """(where, query) for every panel target and every templating variable."""
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield "panel %r" % panel["title"], target["query"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            yield "variable %r" % variable["name"], variable["query"]


def all_queries():
    return [(name, where, query) for name in sorted(SCHEMAS) for where, query in queries(load(name))]


def measurements(query):
    return [match.group("quoted") or match.group("bare") for match in FROM.finditer(query)]


def tags(query):
    found = set()
    for match in TAG_REFERENCE.finditer(query):
        if match.group("tag"):
            found.add(match.group("tag"))
        elif match.group("key"):
            found.add(match.group("key"))
        else:
            found.update(re.findall(r'"([A-Za-z_]+)"', match.group(0)))
    found.discard("value")
    return found


def test_every_shipped_dashboard_has_a_schema_check():
    assert sorted(path.name for path in DASHBOARDS.glob("*.json")) == sorted(SCHEMAS)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_dashboard_is_a_grafana_dashboard(name):
    dashboard = load(name)
    assert dashboard["uid"] and dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert [panel for panel in dashboard["panels"] if panel["type"] != "row"], "no graph panels"
    for panel in dashboard["panels"]:
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, "panel %r is wider than the grid" % panel["title"]


def test_dashboards_have_distinct_uids():
    uids = [load(name)["uid"] for name in SCHEMAS]
    assert len(uids) == len(set(uids))


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_query_reads_the_datasource_input(name):
    dashboard = load(name)
    assert [item["name"] for item in dashboard["__inputs"]] == ["DS_INFLUXDB"]
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${DS_INFLUXDB}", panel["title"]
            assert target["rawQuery"] is True


@pytest.mark.parametrize("name,where,query", all_queries())
def test_every_query_names_a_measurement_written_on_its_path(name, where, query):
    schema = SCHEMAS[name]()
    names = measurements(query)
    assert names, "%s names no measurement: %s" % (where, query)
    unknown = set(names) - set(schema)
    assert not unknown, "%s of %s reads %s, which is never written on its path (or disabled by the role)" % (where, name, sorted(unknown))


@pytest.mark.parametrize("name,where,query", all_queries())
def test_every_query_uses_tags_its_measurement_has(name, where, query):
    schema = SCHEMAS[name]()
    for measurement in measurements(query):
        missing = tags(query) - schema.get(measurement, frozenset())
        assert not missing, "%s of %s uses tags %s that %s does not have" % (where, name, sorted(missing), measurement)


def test_the_fixture_is_cadvisor_with_the_role_defaults():
    """The fixture must hold the series the dashboards need, and not those the role turns off."""
    schema = remote_write_schema()
    assert {"container_cpu_usage_seconds_total", "container_memory_working_set_bytes",
            "container_network_receive_bytes_total", "machine_memory_bytes"} <= set(schema)
    assert {"name", "image", "id"} <= schema["container_memory_usage_bytes"]
    assert "container_fs_usage_bytes" not in schema, "disk group is disabled by the role"
    assert not [name for name in schema if name.startswith("container_processes") or name.startswith("container_network_tcp")]
    assert "cpu" in schema["container_cpu_usage_seconds_total"], "total CPU carries cpu=\"total\""


def test_the_checks_catch_a_wrong_measurement_or_tag():
    """Each schema must refuse the other path's names: the parsers see through quoting."""
    query = 'SELECT mean("value") FROM "container_memory_usage_bytes" WHERE "container_name" = \'x\' AND $timeFilter'
    assert measurements(query) == ["container_memory_usage_bytes"]
    assert measurements("SELECT mean(value) FROM memory_usage") == ["memory_usage"]
    assert tags(query) == {"container_name"}
    assert "container_memory_usage_bytes" not in driver_schema()
    assert "memory_usage" not in remote_write_schema()
    assert "container_name" not in remote_write_schema()["container_memory_usage_bytes"]
    assert exposition_schema('a_metric{b="1",c="x,\\"y"} 3\n# TYPE z gauge\nz 1\n') == {"a_metric": {"b", "c"}, "z": set()}
