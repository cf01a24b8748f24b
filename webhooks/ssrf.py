"""The SSRF guard: a webhook URL may only reach a public address, on 80/443, over HTTPS.

`check_url()` runs when an endpoint is saved and again before every delivery. It resolves
every A/AAAA record and refuses the URL if any one of them is not public (a name answering
one public and one private address must not reach the private one on a later lookup). The
delivery connects to the `Destination.addresses` that were checked, never resolving again.

WEBHOOKS_ALLOW_PRIVATE_ADDRESSES lets loopback and private networks through (tests,
self-hosting beside one's own receiver); link-local (cloud metadata), multicast and reserved
ranges stay refused.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import dns.exception
import dns.resolver
import idna
from django.conf import settings
from django.utils.translation import gettext_noop

from webhooks.failures import in_language

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# What to fix, untranslated: shown in the reader's language, logged in English.
NOT_A_URL = gettext_noop("Enter a full URL such as https://hooks.example.com/fluenzr.")
INVALID_URL = gettext_noop(
    "This URL is not valid: enter one such as https://hooks.example.com/fluenzr."
)
HTTPS_ONLY = gettext_noop(
    "Webhooks are only sent over HTTPS: use an https:// URL for your endpoint."
)
PORT_REFUSED = gettext_noop(
    "Port %(port)s is not allowed: webhooks are only sent to ports 443 and 80."
)
INVALID_HOST = gettext_noop("“%(host)s” is not a valid host name: check the URL.")
INVALID_IPV6 = gettext_noop("“%(host)s” is not a valid IPv6 address: check the URL.")
NOT_A_HOST = gettext_noop("“%(host)s” is neither a host name nor an IP address: check the URL.")
LOCAL_NAME = gettext_noop(
    "%(host)s is a local name: webhooks are only sent to public servers. "
    "Use your server's public host name."
)
SINGLE_LABEL = gettext_noop("Enter the full host name, such as hooks.example.com, not “%(host)s”.")
DNS_TIMEOUT = gettext_noop("DNS did not answer for %(host)s: try again in a few minutes.")
DNS_FAILED = gettext_noop("DNS lookup failed for %(host)s (%(error)s): check the host name.")
NO_ADDRESS = gettext_noop("%(host)s has no address in DNS: check the host name.")
ADDRESS_REFUSED = gettext_noop(
    "%(address)s is %(kind)s: webhooks are only sent to public addresses. "
    "Use your server's public URL."
)
RESOLVES_REFUSED = gettext_noop(
    "%(host)s resolves to %(address)s, %(kind)s: webhooks are only sent to "
    "public addresses. Use your server's public URL."
)
USERINFO = gettext_noop(
    "Remove the user name and password from the URL: FluenzR signs every "
    "delivery, so your endpoint can verify it instead."
)
MESSAGES = (
    NOT_A_URL,
    INVALID_URL,
    HTTPS_ONLY,
    PORT_REFUSED,
    INVALID_HOST,
    INVALID_IPV6,
    NOT_A_HOST,
    LOCAL_NAME,
    SINGLE_LABEL,
    DNS_TIMEOUT,
    DNS_FAILED,
    NO_ADDRESS,
    ADDRESS_REFUSED,
    RESOLVES_REFUSED,
    USERINFO,
)


class UnsafeDestination(Exception):
    """A webhook URL FluenzR will not send to. `message` says what to fix in the active
    language; `english` is what the delivery log stores (see webhooks.failures)."""

    def __init__(self, template: str, **params: object) -> None:
        self.template, self.params = template, params
        super().__init__(self.english)

    @property
    def english(self) -> str:
        return self.template % self.params if self.params else self.template

    @property
    def message(self) -> str:
        return in_language(self.template, self.params)


@dataclass(frozen=True)
class Destination:
    scheme: str
    host: str  # ASCII host name (the Host header and TLS server name), or an IP literal
    port: int
    addresses: tuple[str, ...]  # the checked IPs, to connect to


DEFAULT_PORTS = {"https": 443, "http": 80}

# Allowed only with WEBHOOKS_ALLOW_PRIVATE_ADDRESSES (loopback is checked with is_loopback).
_PRIVATE_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7")
)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")

# Names that never mean a public server, whatever a resolver answers for them.
_LOCAL_NAMES = ("localhost", "localhost.localdomain")
_LOCAL_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".home.arpa", ".lan")

# WHATWG URL: a host whose last label is a number is an IPv4 address, in any of the forms
# inet_aton() reads (2130706433, 0177.0.0.1, 0x7f.1, 127.1).
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")
_HOST_CHARACTERS = re.compile(r"[a-z0-9.\-_]+")


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, compatible, NAT64, 6to4), if any."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(ip.packed[-4:])
    return None


def _kind(ip: IPAddress) -> str:
    """What a non-public address is, for the message."""
    if ip.is_loopback:
        return gettext_noop("a loopback address")
    if ip.is_link_local:
        return gettext_noop("a link-local address (such as cloud metadata)")
    if ip.is_multicast:
        return gettext_noop("a multicast address")
    if ip.is_unspecified:
        return gettext_noop("an unspecified address")
    if any(ip in network for network in _PRIVATE_NETWORKS):
        return gettext_noop("a private network address")
    return gettext_noop("a reserved address")


def _refusal(ip: IPAddress) -> str:
    """Why FluenzR will not connect to `ip` ("" when it will)."""
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return _refusal(embedded)
    if settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES and (
        ip.is_loopback or any(ip in network for network in _PRIVATE_NETWORKS)
    ):
        return ""
    if (
        not ip.is_global
        or ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    ):
        return _kind(ip)
    return ""


def _literal(host: str) -> IPAddress | None:
    """The address `host` is written as (in any notation), or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        if ":" in host:
            raise UnsafeDestination(INVALID_IPV6, host=host) from None
    last = host.rstrip(".").rsplit(".", 1)[-1]
    if not _NUMERIC_LABEL.fullmatch(last):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
    except OSError:
        raise UnsafeDestination(NOT_A_HOST, host=host) from None


def _resolver() -> dns.resolver.Resolver:
    nameservers = settings.WEBHOOKS_DNS_NAMESERVERS
    resolver = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        resolver.nameservers = list(nameservers)
        resolver.port = settings.WEBHOOKS_DNS_PORT
    resolver.lifetime = settings.WEBHOOKS_DNS_TIMEOUT
    return resolver


def _resolve(host: str) -> tuple[str, ...]:
    """Every A and AAAA address of `host`."""
    resolver = _resolver()
    addresses: list[str] = []
    missing = 0
    for record_type in ("A", "AAAA"):
        try:
            answer = resolver.resolve(host, record_type, search=False)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            missing += 1
            continue
        except (dns.exception.Timeout, dns.resolver.NoNameservers):
            raise UnsafeDestination(DNS_TIMEOUT, host=host) from None
        except dns.exception.DNSException as error:
            raise UnsafeDestination(DNS_FAILED, host=host, error=type(error).__name__) from None
        addresses.extend(record.address for record in answer)
    if missing == 2 or not addresses:
        raise UnsafeDestination(NO_ADDRESS, host=host)
    return tuple(dict.fromkeys(addresses))


def _hostname(netloc_host: str) -> str:
    host = netloc_host.lower().rstrip(".")
    if not host:
        raise UnsafeDestination(NOT_A_URL)
    if ":" in host:  # a bracketed IPv6 literal, brackets already removed
        return host
    try:
        host = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        if not _HOST_CHARACTERS.fullmatch(host):
            raise UnsafeDestination(INVALID_HOST, host=host) from None
    return host


def check_url(url: str) -> Destination:
    """Where a webhook for `url` may be sent, or UnsafeDestination saying what to fix."""
    url = (url or "").strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeDestination(INVALID_URL) from None
    scheme = parts.scheme.lower()
    allow_http = settings.DEBUG or settings.WEBHOOKS_ALLOW_HTTP
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        raise UnsafeDestination(NOT_A_URL)
    if scheme != "https" and not allow_http:
        raise UnsafeDestination(HTTPS_ONLY)
    port = port if port is not None else DEFAULT_PORTS[scheme]
    if port not in (80, 443) and not settings.WEBHOOKS_ALLOW_ANY_PORT:
        raise UnsafeDestination(PORT_REFUSED, port=port)

    host = _hostname(parts.hostname)
    literal = _literal(host)
    allow_private = settings.WEBHOOKS_ALLOW_PRIVATE_ADDRESSES
    if literal is not None:
        host = str(literal)
        addresses: tuple[str, ...] = (host,)
    elif host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES):
        if not allow_private:
            raise UnsafeDestination(LOCAL_NAME, host=host)
        addresses = ("127.0.0.1",) if host.split(".")[-1] == "localhost" else _resolve(host)
    elif "." not in host and not allow_private:
        raise UnsafeDestination(SINGLE_LABEL, host=host)
    else:
        addresses = _resolve(host)

    for address in addresses:
        reason = _refusal(ipaddress.ip_address(address))
        if reason:
            if address == host:
                raise UnsafeDestination(ADDRESS_REFUSED, address=address, kind=reason)
            raise UnsafeDestination(RESOLVES_REFUSED, host=host, address=address, kind=reason)
    if parts.username is not None or parts.password is not None:
        raise UnsafeDestination(USERINFO)
    return Destination(scheme=scheme, host=host, port=port, addresses=addresses)
