"""CEF over RFC 5424 syslog, to real receivers on 127.0.0.1 that the tests start: a UDP socket
and a TCP socketserver (RFC 6587 octet counting). What arrives is parsed here with a parser
written from the RFCs and the CEF spec, not with the code under test."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import socketserver
import threading

import pytest
from typer.testing import CliRunner

from workbench.security.audit import AuditError, AuditLog
from workbench.security.audit.cef import syslog_message
from workbench.security.audit.cli import audit_app
from workbench.security.audit.syslog_sender import SyslogSender

RFC5424 = re.compile(r"^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) (-|(?:\[[^\]]*\])+) (.*)$", re.S)
TRICKY = "pipe | equals = backslash \\ newline \n end"


def parse_cef(text: str) -> tuple[list[str], dict[str, str]]:
    """CEF:Version|Vendor|Product|Version|ClassID|Name|Severity|Extension."""
    assert text.startswith("CEF:")
    header, cur, i = [], "", 0
    while len(header) < 7:
        c = text[i]
        if c == "\\":
            cur += text[i + 1]
            i += 2
            continue
        if c == "|":
            header.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    ext_text = text[i:]
    # keys: a word right before an unescaped "="; the value runs to the space before the next key
    marks = [
        m
        for m in re.finditer(r"(?:^| )([A-Za-z0-9_]+)=", ext_text)
        if not _escaped(ext_text, m.end() - 1)
    ]
    ext = {}
    for m, nxt in zip(marks, marks[1:] + [None], strict=True):
        raw = ext_text[m.end() : nxt.start() if nxt else len(ext_text)]
        ext[m.group(1)] = _unescape(raw)
    return header, ext


def _escaped(text: str, pos: int) -> bool:
    n = 0
    while pos - 1 - n >= 0 and text[pos - 1 - n] == "\\":
        n += 1
    return n % 2 == 1


def _unescape(raw: str) -> str:
    out, i = "", 0
    while i < len(raw):
        if raw[i] == "\\" and i + 1 < len(raw):
            out += {"n": "\n", "r": "\r"}.get(raw[i + 1], raw[i + 1])
            i += 2
        else:
            out += raw[i]
            i += 1
    return out


def check_message(msg: str, entry, user: str) -> dict:
    m = RFC5424.match(msg)
    assert m, msg
    pri, ts, host, app, procid, msgid, sd, body = m.groups()
    facility, severity = divmod(int(pri), 8)
    assert facility == 13  # log audit
    assert 0 <= severity <= 7
    assert dt.datetime.fromisoformat(ts.replace("Z", "+00:00")) == dt.datetime.fromisoformat(
        entry.time.replace("Z", "+00:00")
    )
    assert app == "workbench" and procid.isdigit() and msgid == entry.action[:32]
    assert all(33 <= ord(c) <= 126 for c in host + app + msgid)
    header, ext = parse_cef(body)
    assert header[0] == "CEF:0" and header[1:3] == ["Workbench", "Workbench"]
    assert header[4] == entry.action
    assert 0 <= int(header[6]) <= 10
    assert ext["suser"] == user and ext["act"] == entry.action
    assert int(ext["externalId"]) == entry.seq and ext["cs3"] == entry.hash
    t = dt.datetime.fromisoformat(entry.time.replace("Z", "+00:00"))
    assert (
        int(ext["rt"]) == int(t.replace(microsecond=0).timestamp()) * 1000 + t.microsecond // 1000
    )
    return {"severity": severity, "header": header, "ext": ext}


@pytest.fixture
def log(tmp_path):
    log = AuditLog.open(str(tmp_path / "a.sqlite"))
    log.record(
        "auth.login.failure", actor="eve|x=1", outcome="failure", source="192.0.2.9", reason=TRICKY
    )
    log.record("token.reuse", actor="ann", outcome="failure", source="198.51.100.3", family="f1")
    return log


@pytest.fixture
def udp_receiver():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


class _Collect(socketserver.BaseRequestHandler):
    def handle(self):
        data = b""
        while chunk := self.request.recv(65536):
            data += chunk
        self.server.streams.append(data)


@pytest.fixture
def tcp_receiver():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Collect)
    server.streams = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def octet_frames(data: bytes) -> list[str]:
    """RFC 6587 3.4.1: MSG-LEN SP SYSLOG-MSG, repeated."""
    frames, i = [], 0
    while i < len(data):
        sp = data.index(b" ", i)
        n = int(data[i:sp])
        frames.append(data[sp + 1 : sp + 1 + n].decode("utf-8"))
        i = sp + 1 + n
    return frames


def test_cef_over_udp(log, udp_receiver):
    entries = list(log.entries())
    port = udp_receiver.getsockname()[1]
    with SyslogSender(f"127.0.0.1:{port}", "udp") as s:
        for e in entries:
            s.send(syslog_message(e))
    got = [udp_receiver.recvfrom(65536)[0].decode("utf-8") for _ in entries]
    first = check_message(got[0], entries[0], "eve|x=1")
    assert first["ext"]["src"] == "192.0.2.9" and first["ext"]["outcome"] == "failure"
    assert json.loads(first["ext"]["cs2"]) == {"reason": TRICKY}  # escaping round-trips
    second = check_message(got[1], entries[1], "ann")
    assert second["severity"] < first["severity"]  # a reused refresh token is more severe
    assert int(second["header"][6]) > int(first["header"][6])


def test_cef_over_tcp_with_octet_counting_from_the_cli(log, tcp_receiver, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WORKBENCH_HOME", raising=False)
    port = tcp_receiver.server_address[1]
    result = CliRunner().invoke(
        audit_app,
        [
            "export",
            "--store",
            str(tmp_path / "a.sqlite"),
            "--format",
            "cef",
            "--syslog",
            f"127.0.0.1:{port}",
            "--protocol",
            "tcp",
        ],
    )
    assert result.exit_code == 0, result.output
    for _ in range(50):
        if tcp_receiver.streams:
            break
        threading.Event().wait(0.1)
    (stream,) = tcp_receiver.streams
    frames = octet_frames(stream)
    entries = list(log.entries())
    assert len(frames) == 2
    check_message(frames[0], entries[0], "eve|x=1")
    check_message(frames[1], entries[1], "ann")


def test_ocsf_json_over_syslog(log, udp_receiver):
    from workbench.security.audit.siem import export_lines

    entries = list(log.entries())
    port = udp_receiver.getsockname()[1]
    with SyslogSender(f"127.0.0.1:{port}", "udp") as s:
        for e, line in zip(entries, export_lines(entries, "ocsf"), strict=True):
            s.send(syslog_message(e, line))
    msg = udp_receiver.recvfrom(65536)[0].decode("utf-8")
    ev = json.loads(RFC5424.match(msg).group(8))
    assert ev["class_uid"] == 3002 and ev["user"]["name"] == "eve|x=1"


def test_unreachable_receiver_is_reported(log):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(
        AuditError, match=rf"cannot reach syslog receiver 127.0.0.1:{port} over tcp"
    ):
        SyslogSender(f"127.0.0.1:{port}", "tcp")
    with pytest.raises(AuditError, match="must be host:port"):
        SyslogSender("nowhere", "udp")


def test_send_uses_the_configured_receiver(log, udp_receiver, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WORKBENCH_HOME", raising=False)
    port = udp_receiver.getsockname()[1]
    store = str(tmp_path / "a.sqlite")
    missing = CliRunner().invoke(audit_app, ["export", "--store", store, "--send"])
    assert missing.exit_code == 2 and "set audit.syslog" in missing.output
    (tmp_path / "workbench.yml").write_text(
        f"audit:\n  syslog: 127.0.0.1:{port}\n  syslog_protocol: udp\n"
    )
    r = CliRunner().invoke(audit_app, ["export", "--store", store, "--send", "--format", "cef"])
    assert r.exit_code == 0, r.output
    entries = list(log.entries())
    for e in entries:
        check_message(
            udp_receiver.recvfrom(65536)[0].decode("utf-8"), e, "eve|x=1" if e.seq == 1 else "ann"
        )


def test_cef_of_an_entry_without_user_or_address_source_and_with_a_resource(tmp_path):
    from workbench.security.audit.cef import to_cef

    log = AuditLog.open(str(tmp_path / "b.sqlite"))
    e = log.record("pipeline.start", resource="retail|orders", source="gateway.internal")
    bare = log.record("pipeline.stop")
    header, ext = parse_cef(to_cef(e))
    assert header[4] == "pipeline.start"
    assert ext["shost"] == "gateway.internal" and "src" not in ext  # a name, not an address
    assert ext["request"] == "retail|orders" and "suser" not in ext
    _, ext = parse_cef(to_cef(bare))
    assert not {"src", "shost", "request", "suser"} & set(ext)
    assert ext["cs1"] == "" and json.loads(ext["cs2"]) == {}


def test_a_message_too_large_for_one_datagram_is_refused_not_cut(udp_receiver):
    from workbench.security.audit.syslog_sender import MAX_UDP

    port = udp_receiver.getsockname()[1]
    with SyslogSender(f"127.0.0.1:{port}", "udp") as s:
        with pytest.raises(AuditError, match=r"65,508 bytes does not fit .* use --protocol tcp"):
            s.send("x" * (MAX_UDP + 1))
        assert s.sent == 0
        s.send("small")
    assert udp_receiver.recvfrom(65536)[0] == b"small"  # the big one never left


def test_send_all_frames_every_message_over_tcp(tcp_receiver):
    port = tcp_receiver.server_address[1]
    messages = ["one", "two with spaces", "drei \u00fc"]
    with SyslogSender(f"127.0.0.1:{port}", "tcp") as s:
        assert s.send_all(messages) == 3
    for _ in range(100):  # the server thread reads until our shutdown(SHUT_WR)
        if tcp_receiver.streams:
            break
        threading.Event().wait(0.05)
    assert octet_frames(tcp_receiver.streams[0]) == messages


def test_a_receiver_that_goes_away_is_reported_with_how_many_were_sent():
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens: the kernel answers each datagram with ICMP unreachable
    s = SyslogSender(f"127.0.0.1:{port}", "udp")
    with pytest.raises(
        AuditError, match=rf"sending to syslog receiver 127.0.0.1:{port} over udp failed after \d+"
    ):
        for _ in range(200):  # the refusal is reported on the send after the one refused
            s.send("hello")
            threading.Event().wait(0.01)
    assert 1 <= s.sent < 200
    s.close()


def test_a_bad_protocol_is_refused():
    with pytest.raises(AuditError, match="syslog protocol 'tls' must be udp or tcp"):
        SyslogSender("127.0.0.1:514", "tls")
