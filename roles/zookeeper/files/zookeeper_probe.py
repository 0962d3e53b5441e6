"""Ask a ZooKeeper server one four-letter word (srvr, ruok, mntr...) and print its answer.

Used by the zookeeper role's health checks: ``python3 zookeeper_probe.py HOST PORT WORD``.
Exits 1 when the server cannot be reached or closes the connection without an answer.
"""

import socket
import sys


def ask(host, port, word, timeout=5.0):
    """Send WORD to HOST:PORT and return everything the server answers before it closes."""
    with socket.create_connection((host, port), timeout=timeout) as conn:
        conn.sendall(word.encode("ascii"))
        chunks = []
        while True:
            chunk = conn.recv(4096)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def main(argv):
    if len(argv) != 4:
        sys.stderr.write("usage: zookeeper_probe.py HOST PORT WORD\n")
        return 2
    try:
        answer = ask(argv[1], int(argv[2]), argv[3])
    except OSError as exc:
        sys.stderr.write("cannot ask %s:%s %s: %s\n" % (argv[1], argv[2], argv[3], exc))
        return 1
    if not answer:
        sys.stderr.write("%s:%s closed the connection without answering %s (is the word whitelisted?)\n" % (argv[1], argv[2], argv[3]))
        return 1
    sys.stdout.write(answer)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
