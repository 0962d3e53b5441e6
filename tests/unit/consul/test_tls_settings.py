# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The consul role's TLS decisions, rendered with Ansible's own templar from the role's files: the agent
configuration with TLS on and off, the names in a generated certificate, PEM contents or controller paths,
and which combinations of supplied CA and certificates the role accepts."""

import os

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar
from role_templates import trusted

# Lookups (a setting given as a controller path is read with ansible.builtin.file) need the plugin loader:
# tests/conftest.py sets it up.
ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "roles", "consul")
LOADER = DataLoader()
PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"


def role_file(*parts):
    return trusted(LOADER.load_from_file(os.path.join(ROLE, *parts)))


def templar(host="ctl1", **extra):
    """The role's defaults and vars for `host` of three servers (ctl1-3) and a client (node1)."""
    servers = ["ctl1", "ctl2", "ctl3"]
    hostvars = {
        name: {"ansible_facts": {"hostname": name, "fqdn": name + ".example.org",
                                 "default_ipv4": {"address": "10.0.0.%d" % number}}}
        for number, name in enumerate(servers + ["node1"], start=1)
    }
    variables = role_file("defaults", "main.yml")
    variables.update(role_file("vars", "main.yml"))
    variables.update(groups={"all": list(hostvars), "consul_servers": servers}, hostvars=hostvars,
                     inventory_hostname=host, inventory_hostname_short=host,
                     ansible_facts=hostvars[host]["ansible_facts"], playbook_dir="/tmp")
    variables.update(trusted(extra))
    return Templar(loader=LOADER, variables=variables)


def render(engine, value):
    return engine.template(trusted(value))


def config(**extra):
    return render(templar(**extra), "{{ __consul_config }}")


def test_tls_off_adds_nothing_to_the_configuration():
    rendered = config()
    assert not {"ca_file", "cert_file", "key_file", "verify_outgoing", "addresses"} & set(rendered)
    assert rendered["ports"] == {"http": 8500, "dns": 8600}


def test_tls_on_checks_rpc_both_ways_and_keeps_plain_http_on_loopback():
    rendered = config(consul_tls_enabled=True)
    assert rendered["ca_file"] == "/etc/consul.d/tls/ca.pem"
    assert rendered["cert_file"] == "/etc/consul.d/tls/agent.pem"
    assert rendered["key_file"] == "/etc/consul.d/tls/agent-key.pem"
    assert rendered["verify_incoming_rpc"] is True
    assert rendered["verify_incoming_https"] is False
    assert rendered["verify_outgoing"] is True
    assert rendered["verify_server_hostname"] is True
    assert rendered["ports"] == {"http": 8500, "dns": 8600, "https": 8501}
    assert rendered["addresses"] == {"http": "127.0.0.1"}
    assert rendered["client_addr"] == "127.0.0.1"


def test_plain_http_may_stay_where_client_addr_is():
    rendered = config(consul_tls_enabled=True, consul_tls_http_loopback_only=False, consul_client_address="0.0.0.0")
    assert "addresses" not in rendered
    assert rendered["client_addr"] == "0.0.0.0"


def test_extra_settings_still_win():
    rendered = config(consul_tls_enabled=True, consul_config_extra={"verify_incoming_https": True, "ports": {"https": 9501}})
    assert rendered["verify_incoming_https"] is True
    assert rendered["ports"] == {"http": 8500, "dns": 8600, "https": 9501}


@pytest.mark.parametrize("host, role", [("ctl2", "server"), ("node1", "client")])
def test_certificate_names(host, role):
    sans = render(templar(host, consul_tls_cert_extra_sans=["consul.example.org", "fd00::5", "10.0.0.2"]),
                  "{{ __consul_tls_sans }}")
    number = {"ctl2": 2, "node1": 4}[host]
    assert sans == [
        "DNS:%s.dc1.consul" % role, "DNS:localhost", "IP:127.0.0.1", "DNS:" + host, "DNS:%s.example.org" % host,
        "IP:10.0.0.%d" % number,
    ] + ["DNS:consul.example.org", "IP:fd00::5"] + ([] if number == 2 else ["IP:10.0.0.2"])


def test_settings_are_pem_contents_or_controller_paths(tmp_path):
    key_file = tmp_path / "ca.key"
    key_file.write_text("-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----\n\n", encoding="utf-8")
    supplied = render(templar(consul_tls_ca_cert=PEM + "\n", consul_tls_ca_key=str(key_file)), "{{ __consul_tls_supplied }}")
    assert supplied == {"ca_cert": PEM, "ca_key": "-----BEGIN EC PRIVATE KEY-----\nMHc\n-----END EC PRIVATE KEY-----",
                        "cert": "", "key": ""}


def settings_accepted(**extra):
    check = [item for item in role_file("tasks", "tls.yml") if item["name"] == "Check the TLS settings"][0]
    engine = templar(**extra)
    return all(engine.evaluate_conditional(trusted(condition)) for condition in check["ansible.builtin.assert"]["that"])


@pytest.mark.parametrize("settings, accepted", [
    ({}, True),                                                                      # generated CA
    ({"consul_tls_ca_cert": PEM, "consul_tls_ca_key": PEM}, True),                   # supplied CA signs
    ({"consul_tls_ca_cert": PEM}, False),                                            # cannot sign
    ({"consul_tls_ca_cert": PEM, "consul_tls_cert": PEM, "consul_tls_key": PEM}, True),
    ({"consul_tls_ca_key": PEM}, False),
    ({"consul_tls_cert": PEM}, False),                                               # a certificate without its key
    ({"consul_tls_cert": PEM, "consul_tls_key": PEM}, False),                        # signed by which CA?
])
def test_supplied_ca_and_certificates(settings, accepted):
    assert settings_accepted(**settings) is accepted
