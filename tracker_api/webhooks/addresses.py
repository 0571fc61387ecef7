"""Which URLs a webhook may call: http(s) to public addresses only, checked when the URL is saved and again,
after DNS, right before each delivery (a name may resolve differently later: DNS rebinding).

Why: the worker sits inside the operator's network. Without this a bot could make it POST to the cloud's
metadata service, to PostgreSQL's or Redis' port, or to an admin page on loopback. The worker connects to the
very address that was checked (never resolving the name a second time), follows no redirects and reads a
capped amount of the answer (delivery.py). WEBHOOK_ALLOWED_HOSTS lets the operator name hosts that are exempt.
"""
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from ..web.i18n import N_, gettext

LOCAL_NAMES = ("localhost", "localhost.localdomain", "metadata.google.internal", "metadata")
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain")


class UnsafeUrl(ValueError):
    """The URL is not one a webhook may call; the message says why, for the bot."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, IPv6 without brackets
    port: int
    path: str  # path and query, as sent in the request line

    @property
    def host_header(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return host if self.port == default else f"{host}:{self.port}"


def parse_target(url):
    """Split a webhook URL into what the worker connects to; UnsafeUrl if it is not an absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise UnsafeUrl(gettext("Not a valid URL: %(error)s.", error=error)) from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeUrl(gettext("Use an http:// or https:// URL."))
    if not parts.hostname:
        raise UnsafeUrl(gettext("The URL needs a host name."))
    if parts.username is not None or parts.password is not None:
        raise UnsafeUrl(gettext("Put no user name or password in the URL: verify the signature instead."))
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname.lower().rstrip("."), port or (443 if parts.scheme == "https" else 80),
                  path)


def forbidden_reason(address):
    """Why an IP address is no place for a webhook (loopback, private, ...), or None for a public one."""
    ip = _embedded_ipv4(ipaddress.ip_address(address))
    for reason, found in ((N_("loopback"), ip.is_loopback), (N_("link-local (cloud metadata)"), ip.is_link_local),
                          (N_("private"), ip.is_private), (N_("multicast"), ip.is_multicast),
                          (N_("unspecified"), ip.is_unspecified), (N_("reserved"), ip.is_reserved)):
        if found:
            return reason
    return None if ip.is_global else N_("not public")


NAT64 = ipaddress.ip_network("64:ff9b::/96")


def _embedded_ipv4(ip):
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64): the packets end up there."""
    if ip.version == 6:
        if ip.ipv4_mapped or ip.sixtofour:
            return ip.ipv4_mapped or ip.sixtofour
        if ip in NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _literal_ip(host):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def check_url(url, allowed_hosts=()):
    """The Target of a URL a webhook may be saved with. Literal addresses and local names are refused here;
    names are resolved at delivery time (a name that does not resolve yet may be saved)."""
    target = parse_target(url)
    check_host(target.host, allowed_hosts)
    return target


def check_host(host, allowed_hosts=()):
    """UnsafeUrl unless `host` is allowed, a public literal address, or a name that is not obviously local."""
    if host in allowed_hosts:
        return
    if _literal_ip(host) is not None:
        reason = forbidden_reason(host)
        if reason:
            raise UnsafeUrl(gettext("Webhook URLs must point at a public address, not a %(reason)s one (%(host)s).",
                                    reason=gettext(reason), host=host))
    elif host in LOCAL_NAMES or host.endswith(LOCAL_SUFFIXES) or "." not in host:
        raise UnsafeUrl(gettext("Webhook URLs must name a public host, not a local one (%(host)s).", host=host))


def resolve(host, port):
    """Every address `host` resolves to (a seam for tests that need a name to resolve somewhere else)."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


def address_to_connect(target, allowed_hosts=()):
    """The checked IP address to connect to for `target`: refused if any address the name resolves to is not
    public (a name with one private address among public ones could be steered to it)."""
    check_host(target.host, allowed_hosts)
    try:
        addresses = resolve(target.host, target.port)
    except OSError as error:
        raise UnsafeUrl(gettext("Could not resolve %(host)s: %(error)s.", host=target.host, error=error)) from None
    if not addresses:
        raise UnsafeUrl(gettext("%(host)s resolves to no address.", host=target.host))
    if target.host not in allowed_hosts:
        for address in addresses:
            reason = forbidden_reason(address.split("%")[0])
            if reason:
                raise UnsafeUrl(gettext("%(host)s resolves to a %(reason)s address (%(address)s): refused.",
                                        host=target.host, reason=gettext(reason), address=address))
    return addresses[0]
