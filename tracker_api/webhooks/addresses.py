"""Which URLs a webhook may call: http(s) to public addresses only, checked when the URL is saved and again,
after DNS, right before each delivery (a name may resolve differently later: DNS rebinding).

Why: the worker sits inside the operator's network. Without this a bot could make it POST to the cloud's
metadata service, to PostgreSQL's or Redis' port, or to an admin page on loopback. The worker connects to the
very address that was checked (never resolving the name a second time), follows no redirects and reads a
capped amount of the answer (delivery.py). WEBHOOK_ALLOWED_HOSTS lets the operator name hosts that are exempt.
"""
import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

import idna

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
    """Split a webhook URL into what the worker connects to; UnsafeUrl if it is not an absolute http(s) URL. The
    host comes out canonical (canonical_host), so the check when the URL is saved and the one before each
    delivery read the same host."""
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
    return Target(parts.scheme, canonical_host(parts.hostname), port or (443 if parts.scheme == "https" else 80),
                  path)


# What the C library's inet_aton() reads as an IPv4 address: one to four parts, each decimal, octal (leading 0)
# or hex (0x), the last one filling the remaining bytes: 127.1, 0177.0.0.1, 0x7f.1, 2130706433. getaddrinfo()
# takes such a host as an address without asking DNS, so it must be judged as one.
INET_ATON_FORM = re.compile(r"^(?:0x[0-9a-f]+|[0-9]+)(?:\.(?:0x[0-9a-f]+|[0-9]+)){0,3}$")
NAME_FORM = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?)*$")


def canonical_host(host):
    """The host as the resolver will read it: percent-decoded, IDNA (UTS #46) to ASCII (which also folds
    full-width digits and dots), lower case, without the trailing dot; an IPv4 address in any inet_aton()
    spelling as a dotted quad, an IPv6 address in its compressed form. UnsafeUrl for what is neither an address
    nor a valid host name."""
    host = unquote(host)
    if not host.isascii():
        try:
            host = idna.encode(host, uts46=True).decode("ascii")
        except idna.IDNAError as error:
            raise UnsafeUrl(gettext("Not a valid host name: %(error)s.", error=error)) from None
    host = host.lower()
    host = host[:-1] if host.endswith(".") else host
    if ":" in host:
        return _canonical_ipv6(host)
    if INET_ATON_FORM.match(host):
        try:
            return socket.inet_ntoa(socket.inet_aton(host))
        except OSError:
            raise UnsafeUrl(gettext("Not a valid IPv4 address: %(host)s.", host=host)) from None
    if not NAME_FORM.match(host):
        raise UnsafeUrl(gettext("Not a valid host name: %(host)r.", host=host))
    return host


def _canonical_ipv6(host):
    try:
        ip = ipaddress.IPv6Address(host)
    except ValueError:
        raise UnsafeUrl(gettext("Not a valid IPv6 address: %(host)s.", host=host)) from None
    if ip.scope_id:  # fe80::1%eth0: a zone names one of the worker's own network interfaces
        raise UnsafeUrl(gettext("Webhook URLs must point at a public address, not one with a zone index (%(host)s).",
                              host=host))
    return ip.compressed


def forbidden_reason(address):
    """Why an IP address is no place for a webhook (loopback, private, ...), or None for a public one. An IPv6
    address that carries an IPv4 one (mapped, compatible, 6to4, NAT64, Teredo) is judged by that one too; a mapped
    or well-known NAT64 one only by that one (its packets go there: ::ffff:8.8.8.8 is 8.8.8.8)."""
    ip = ipaddress.ip_address(address)
    if ip.version == 6 and (ip.ipv4_mapped or ip in NAT64):
        return _reason(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    for candidate in (*_embedded_ipv4(ip), ip):
        reason = _reason(candidate)
        if reason:
            return reason
    return None


def _reason(ip):
    for reason, found in ((N_("loopback"), ip.is_loopback), (N_("link-local (cloud metadata)"), ip.is_link_local),
                          (N_("private"), ip.is_private), (N_("multicast"), ip.is_multicast),
                          (N_("unspecified"), ip.is_unspecified), (N_("reserved"), ip.is_reserved)):
        if found:
            return reason
    return None if ip.is_global else N_("not public")


# IPv6 prefixes whose last 32 bits are an IPv4 address the packets end up at: IPv4-compatible (::/96), the
# IPv4-translated form (::ffff:0:0/96), NAT64 (well-known and local-use prefixes).
NAT64 = ipaddress.ip_network("64:ff9b::/96")
CARRIES_IPV4 = (ipaddress.ip_network("::/96"), ipaddress.ip_network("::ffff:0:0/96"), NAT64,
                ipaddress.ip_network("64:ff9b:1::/48"))


def _embedded_ipv4(ip):
    """The IPv4 addresses an IPv6 one stands for or leads to."""
    if ip.version == 4:
        return ()
    found = [ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())]
    if int(ip) > 1 and any(ip in network for network in CARRIES_IPV4):  # not ::1 and ::
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return tuple(address for address in found if address is not None)


def _literal_ip(host):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_allowed(host, allowed_hosts):
    """Whether the operator exempted `host` (a canonical host), however WEBHOOK_ALLOWED_HOSTS spells it."""
    return host in {_canonical_or_same(allowed) for allowed in allowed_hosts}


def _canonical_or_same(host):
    try:
        return canonical_host(host)
    except UnsafeUrl:
        return host


def check_url(url, allowed_hosts=()):
    """The Target of a URL a webhook may be saved with. Literal addresses and local names are refused here;
    names are resolved at delivery time (a name that does not resolve yet may be saved)."""
    target = parse_target(url)
    check_host(target.host, allowed_hosts)
    return target


def check_host(host, allowed_hosts=()):
    """UnsafeUrl unless `host` (canonical, from parse_target) is allowed, a public address, or a name that is not
    obviously local. The one rule for saving (create, PATCH) and sending: they cannot disagree."""
    if is_allowed(host, allowed_hosts):
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
    if not is_allowed(target.host, allowed_hosts):
        for address in addresses:
            reason = forbidden_reason(address.split("%")[0])
            if reason:
                raise UnsafeUrl(gettext("%(host)s resolves to a %(reason)s address (%(address)s): refused.",
                                        host=target.host, reason=gettext(reason), address=address))
    return addresses[0]
