"""The stand-ins' ZooKeeper wire encoding and the zookeeper role's four-letter-word probe."""

import socket
import struct
import threading

import zkclient
import zookeeper_probe


def test_request_frame_layout():
    frame = zkclient._Writer().int(7).string("/mesos").bool(True).frame()  # pylint: disable=protected-access
    body = struct.pack(">i", 7) + struct.pack(">i", 6) + b"/mesos" + b"\x01"
    assert frame == struct.pack(">i", len(body)) + body


def test_reader_decodes_what_the_writer_encodes():
    writer = zkclient._Writer().long(-5).buffer(None).string("json.info_0000000001")  # pylint: disable=protected-access
    reader = zkclient._Reader(writer.frame()[4:])  # pylint: disable=protected-access
    assert (reader.long(), reader.buffer(), reader.string()) == (-5, None, "json.info_0000000001")


def serve_once(answer):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    received = []

    def handle():
        conn, _addr = server.accept()
        with conn:
            received.append(conn.recv(4))
            conn.sendall(answer)
        server.close()

    threading.Thread(target=handle, daemon=True).start()
    return server.getsockname()[1], received


def test_probe_sends_the_word_and_returns_the_answer():
    port, received = serve_once(b"imok")
    assert zookeeper_probe.ask("127.0.0.1", port, "ruok") == "imok"
    assert received == [b"ruok"]


def test_probe_fails_on_a_word_that_is_not_whitelisted(capsys):
    port, _received = serve_once(b"")
    assert zookeeper_probe.main(["probe", "127.0.0.1", str(port), "srvr"]) == 1
    assert "without answering srvr" in capsys.readouterr().err
