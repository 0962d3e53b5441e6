# -*- coding: utf-8 -*-
# Copyright (c) shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later


class ModuleDocFragment(object):

    # Connection options shared by every Marathon module.
    DOCUMENTATION = r"""
options:
  url:
    description:
      - Base URL of Marathon, for example V(http://master1:8080), or a list of them (every Marathon master).
      - Requests go to the first URL that answers; on a connection error the next URL is tried (failover).
        Non-leaders proxy requests to the leader, so any master will do.
      - Behind DC/OS Admin Router, include the path prefix, for example V(https://cluster/service/marathon).
      - When no URL answers, or the answers are 500, 502 (no leader), 503 or 504, the whole list is tried again,
        up to three more times, after 0.5, 1 and 2 seconds. A TLS certificate that does not validate fails at once.
    type: list
    elements: str
    required: true
  username:
    description:
      - User for HTTP basic authentication (Marathon's C(--http_credentials)).
    type: str
  password:
    description:
      - Password for HTTP basic authentication.
    type: str
  token:
    description:
      - DC/OS authentication token, sent in the C(Authorization) header as C(token=<token>).
      - Mutually exclusive with O(username).
    type: str
  validate_certs:
    description:
      - Whether to validate the server's TLS certificate for C(https) URLs.
    type: bool
    default: true
  ca_path:
    description:
      - PEM file of CA certificates to validate the server's certificate with.
    type: path
  timeout:
    description:
      - Timeout in seconds of each HTTP request (not of waiting for deployments, see the C(wait_timeout) option of the modules that wait).
    type: int
    default: 10
notes:
  - Set the connection options once for all Marathon modules with
    C(module_defaults) and the action group C(group/shepherd.fleet.marathon).
"""

    ATTRIBUTES = r"""
options: {}
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying Marathon.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check mode), when in diff mode.
  action_group:
    description: Use C(group/shepherd.fleet.marathon) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - shepherd.fleet.marathon
"""
