"""A local authoritative DNS server (dnslib) on loopback: DNS lookups in tests, no network.

`dns_zone` is a dict the test fills: name → CNAME target ("" = exists, with an A record of
192.0.2.10 only), or a list of addresses (its A and AAAA records). It points the tracking
domain check and the webhooks' SSRF guard at the server.
"""

from __future__ import annotations

import ipaddress
import threading

import pytest
from dnslib import AAAA, CNAME, QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSServer


class _Zone(BaseResolver):
    def __init__(self, records: dict[str, str | list[str]]) -> None:
        self.records = records

    def resolve(self, request, handler):
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        record = self.records.get(name)
        qtype = request.q.qtype
        if name not in self.records:
            reply.header.rcode = RCODE.NXDOMAIN
        elif isinstance(record, list | tuple):
            for address in record:
                version = ipaddress.ip_address(address).version
                if version == 4 and qtype == QTYPE.A:
                    reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address)))
                elif version == 6 and qtype == QTYPE.AAAA:
                    reply.add_answer(
                        RR(
                            request.q.qname,
                            QTYPE.AAAA,
                            rdata=AAAA(list(ipaddress.ip_address(address).packed)),
                        )
                    )
        elif record and qtype in (QTYPE.CNAME, QTYPE.A):
            reply.add_answer(RR(request.q.qname, QTYPE.CNAME, rdata=CNAME(record)))
        elif qtype == QTYPE.A:
            reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A("192.0.2.10")))
        return reply


@pytest.fixture
def dns_zone(settings):
    zone = _Zone({})
    server = DNSServer(zone, address="127.0.0.1", port=0)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    port = server.server.server_address[1]
    settings.TRACKING_DNS_NAMESERVERS = ["127.0.0.1"]
    settings.TRACKING_DNS_PORT = port
    settings.TRACKING_DNS_TIMEOUT = 2
    settings.TRACKING_HOST = "track.fluenzr.example"
    settings.WEBHOOKS_DNS_NAMESERVERS = ["127.0.0.1"]
    settings.WEBHOOKS_DNS_PORT = port
    settings.WEBHOOKS_DNS_TIMEOUT = 2
    yield zone.records
    server.server.shutdown()
    server.server.server_close()
