"""Send syslog messages to a SIEM: UDP (RFC 5426, one datagram per message) or TCP with
RFC 6587 octet counting ("LEN SP MSG"), so a message may itself contain newlines."""

from __future__ import annotations

import socket
from collections.abc import Iterable

from .errors import AuditError

MAX_UDP = 65507  # the largest IPv4 UDP payload


def parse_target(target: str) -> tuple[str, int]:
    """host:port or [v6]:port."""
    host, sep, port = target.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise AuditError(f"syslog target {target!r} must be host:port, e.g. siem.example:514")
    return host, int(port)


class SyslogSender:
    def __init__(self, target: str, protocol: str = "udp", timeout: float = 5.0):
        if protocol not in ("udp", "tcp"):
            raise AuditError(f"syslog protocol {protocol!r} must be udp or tcp")
        self.target, self.protocol = target, protocol
        self.host, self.port = parse_target(target)
        self.where = f"syslog receiver {target} over {protocol}"
        kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
        try:
            info = socket.getaddrinfo(self.host, self.port, type=kind)[0]
            self.sock = socket.socket(info[0], kind)
            self.sock.settimeout(timeout)
            # a connected UDP socket reports an ICMP "port unreachable" on a later send
            self.sock.connect(info[4])
        except OSError as e:
            raise AuditError(f"cannot reach {self.where}: {e.strerror or e}") from None
        self.sent = 0

    def send(self, message: str) -> None:
        data = message.encode("utf-8")
        try:
            if self.protocol == "udp":
                if len(data) > MAX_UDP:
                    raise AuditError(
                        f"a syslog message of {len(data):,} bytes does not fit in one "
                        f"UDP datagram for {self.target}; use --protocol tcp"
                    )
                self.sock.send(data)
            else:
                self.sock.sendall(str(len(data)).encode() + b" " + data)
        except OSError as e:
            raise AuditError(
                f"sending to {self.where} failed after {self.sent} messages: {e.strerror or e}"
            ) from None
        self.sent += 1

    def send_all(self, messages: Iterable[str]) -> int:
        for m in messages:
            self.send(m)
        return self.sent

    def close(self) -> None:
        try:
            if self.protocol == "tcp":
                self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        self.sock.close()

    def __enter__(self) -> SyslogSender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
