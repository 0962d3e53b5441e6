# -*- coding: utf-8 -*-
# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Errors and exit codes of the over-the-air updater (ota-agent's CLI contract, see docs/ota.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

EXIT_OK = 0           # updated, already current, recovered, rolled back on demand
EXIT_FAILED = 1       # nothing changed: bad manifest, download or disk error (running untouched)
EXIT_USAGE = 2        # bad command line or configuration
EXIT_ROLLED_BACK = 3  # the new set failed its health check and the previous one runs again
EXIT_BUSY = 4         # another ota-agent holds the lock


class OtaError(Exception):
    """An error the operator can act on: the message names the field, program or step."""

    def __init__(self, message, code=EXIT_FAILED, rolled_back=False):
        super(OtaError, self).__init__(message)
        self.code = code
        self.rolled_back = rolled_back


class NetworkError(OtaError):
    """The transfer broke off: what was received is kept, the next apply resumes it."""
