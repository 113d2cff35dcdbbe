"""Blocks and records connections that leave the machine (anything but loopback and Unix sockets)."""
import ipaddress
import socket

attempts: list[str] = []
_installed = False


def is_local(address) -> bool:
    if isinstance(address, (str, bytes)):  # AF_UNIX path
        return True
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", ""):
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
        return ip.is_loopback or ip.is_unspecified  # binding 0.0.0.0 reaches nobody
    except ValueError:
        return False  # a host name: resolving it would already be a lookup outside


def install(log_path: str | None = None) -> None:
    global _installed
    if _installed:
        return
    _installed = True
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def record(what: str) -> None:
        attempts.append(what)
        if log_path:
            with open(log_path, "a", encoding="utf-8") as f:
                f.write(what + "\n")

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not is_local(address):
            record(f"connect {address!r}")
            raise OSError(f"test network guard: connection to {address!r} refused (offline product)")
        return real_connect(self, address)

    def connect_ex(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6) and not is_local(address):
            record(f"connect_ex {address!r}")
            return 111
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if host is not None and not is_local((host if isinstance(host, str) else host.decode(), 0)):
            record(f"getaddrinfo {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, f"test network guard: lookup of {host!r} refused")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.getaddrinfo = getaddrinfo
