"""The shipped Grafana dashboard is valid and asks only for measurements cAdvisor really writes to InfluxDB."""

import json
import pathlib
import re

import pytest

DASHBOARD = pathlib.Path(__file__).resolve().parents[3] / "dashboards" / "cadvisor-influxdb.json"

# Every measurement cAdvisor 0.38's influxdb storage driver writes (the ser* constants and makePoint calls of
# cmd/internal/storage/influxdb/influxdb.go in google/cadvisor), each point with one field, "value".
CADVISOR_MEASUREMENTS = frozenset({
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
CADVISOR_TAGS = frozenset({"machine", "container_name"})
# Groups the role disables by default: a panel on them would stay empty.
DISABLED_BY_DEFAULT = frozenset({"cpu_usage_per_cpu", "fs_limit", "fs_usage", "hugetlb_usage", "hugetlb_max_usage",
                                 "hugetlb_failcnt", "perf_stat", "referenced_memory", "resctrl_memory_bandwidth_total",
                                 "resctrl_memory_bandwidth_local", "resctrl_llc_occupancy"})

FROM = re.compile(r'\bFROM\s+("(?P<quoted>[^"]+)"|(?P<bare>[A-Za-z_][A-Za-z0-9_.]*))', re.IGNORECASE)
TAG_REFERENCE = re.compile(r'"(?P<tag>[A-Za-z_]+)"\s*(=~|!=|=|!~)|GROUP BY[^;]*|WITH KEY = "(?P<key>[A-Za-z_]+)"')


def load():
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def queries(dashboard):
    """(where, query) for every panel target and every templating variable."""
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            yield "panel %r" % panel["title"], target["query"]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            yield "variable %r" % variable["name"], variable["query"]


def measurements(query):
    return [match.group("quoted") or match.group("bare") for match in FROM.finditer(query)]


def test_dashboard_is_a_grafana_dashboard():
    dashboard = load()
    assert dashboard["uid"] and dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    assert [panel for panel in dashboard["panels"] if panel["type"] != "row"], "no graph panels"
    for panel in dashboard["panels"]:
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24, "panel %r is wider than the grid" % panel["title"]


def test_every_query_reads_the_datasource_input():
    dashboard = load()
    assert [item["name"] for item in dashboard["__inputs"]] == ["DS_INFLUXDB"]
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == "${DS_INFLUXDB}", panel["title"]
            assert target["rawQuery"] is True


@pytest.mark.parametrize("where,query", list(queries(load())))
def test_every_query_names_a_measurement_cadvisor_writes(where, query):
    names = measurements(query)
    assert names, "%s names no measurement: %s" % (where, query)
    unknown = set(names) - CADVISOR_MEASUREMENTS
    assert not unknown, "%s reads %s, which cAdvisor's influxdb driver never writes" % (where, sorted(unknown))
    empty = set(names) & DISABLED_BY_DEFAULT
    assert not empty, "%s reads %s, which the cadvisor role does not collect by default" % (where, sorted(empty))


@pytest.mark.parametrize("where,query", list(queries(load())))
def test_every_query_filters_on_tags_cadvisor_sets(where, query):
    tags = set()
    for match in TAG_REFERENCE.finditer(query):
        if match.group("tag"):
            tags.add(match.group("tag"))
        elif match.group("key"):
            tags.add(match.group("key"))
        else:
            tags.update(re.findall(r'"([A-Za-z_]+)"', match.group(0)))
    tags.discard("value")
    assert tags <= CADVISOR_TAGS, "%s uses tags %s" % (where, sorted(tags - CADVISOR_TAGS))


def test_the_checks_catch_a_wrong_measurement():
    """The parser must see through quoting: a query on Prometheus' name for the same series fails."""
    assert measurements('SELECT mean("value") FROM "container_memory_usage_bytes" WHERE $timeFilter') == ["container_memory_usage_bytes"]
    assert measurements("SELECT mean(value) FROM memory_usage") == ["memory_usage"]
    assert "container_memory_usage_bytes" not in CADVISOR_MEASUREMENTS
