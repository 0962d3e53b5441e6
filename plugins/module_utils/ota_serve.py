# -*- coding: utf-8 -*-
# Copyright: shepherd.fleet developers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small firmware server (`ota-agent serve DIR`): static files over HTTP/1.1 with single-range requests
(`Range: bytes=N-[M]`, so that interrupted downloads resume), sent with sendfile. Used by the tests, the
benchmark and the Molecule scenario's firmware server; any web server with Range support does as well."""

from __future__ import absolute_import, division, print_function

import os
import re

from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

__metaclass__ = type

RANGE_RE = re.compile(r"^bytes=(\d+)-(\d*)$")


class RangeHandler(SimpleHTTPRequestHandler):
    """SimpleHTTPRequestHandler plus `Range: bytes=N-[M]`."""

    protocol_version = "HTTP/1.1"
    range_left = None

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        if getattr(self.server, "verbose", False):
            SimpleHTTPRequestHandler.log_message(self, format, *args)

    def send_head(self):
        self.range_left = None
        path = self.translate_path(self.path)
        if os.path.isdir(path) or not os.path.isfile(path):
            return SimpleHTTPRequestHandler.send_head(self)
        handle = open(path, "rb")  # pylint: disable=consider-using-with
        size = os.fstat(handle.fileno()).st_size
        start, end = 0, size - 1
        match = RANGE_RE.match(self.headers.get("Range") or "")
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            if start >= size:
                handle.close()
                self.send_response(416)
                self.send_header("Content-Range", "bytes */%d" % size)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, end, size))
        else:
            self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        handle.seek(start)
        self.range_left = end - start + 1
        return handle

    def copyfile(self, source, outputfile):
        left = self.range_left
        if left is None:
            return SimpleHTTPRequestHandler.copyfile(self, source, outputfile)
        outputfile.flush()
        offset = source.tell()
        while left > 0:
            sent = self.connection.sendfile(source, offset, left)
            if not sent:
                break
            offset += sent
            left -= sent
        return None


def make_server(directory, port=8080, bind="0.0.0.0", handler=RangeHandler):
    """A ThreadingHTTPServer serving directory (port 0: any free port, see server.server_address)."""

    class Handler(handler):
        def __init__(self, *args, **kwargs):
            kwargs["directory"] = directory
            handler.__init__(self, *args, **kwargs)

    server = ThreadingHTTPServer((bind, port), Handler)
    server.daemon_threads = True
    return server


def serve(directory, port=8080, bind="0.0.0.0"):
    """Serve directory until interrupted."""
    server = make_server(directory, port, bind)
    try:
        server.serve_forever()
    finally:
        server.server_close()
