"""EmailChecker.check (regex + per-domain cache) must agree exactly with EmailChecker.full
(email-validator itself) on every input: same normalised address, same error message."""

from __future__ import annotations

import random
import string

import idna
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

from contacts.emails import EmailChecker, EmailVerdict

ATEXT_SPECIALS = "!#$%&'*+/=?^_`{|}~-"

# 20 x U+4E2D: 26 ASCII characters as Punycode, 60 bytes of UTF-8 once decoded.
_IDN_LABEL = idna.encode("\u4e2d" * 20).decode("ascii")
# Valid with a short local part, too long after normalisation with a long one.
_LONG_IDN_DOMAIN = ".".join([_IDN_LABEL] * 4) + ".com"
# Too long after normalisation whatever the local part; the byte count depends on it.
_TOO_LONG_IDN_DOMAIN = ".".join([_IDN_LABEL] * 5) + ".com"


def _domain_of_length(n: int) -> str:
    """An ASCII domain of exactly n characters, labels of at most 63, ending in .com."""
    labels: list[str] = []
    remaining = n - len(".com")
    while remaining > 0:
        size = min(63, remaining)
        if remaining - size == 1:  # never leave a lone separator with nothing after it
            size -= 1
        labels.append("d" * size)
        remaining -= size + 1
    domain = ".".join(labels) + ".com"
    assert len(domain) == n, (n, len(domain))
    return domain


def _fixed_cases() -> list[str]:
    cases = [
        # Plain valid, mixed case in local part and domain.
        "Jean.Dupont@Example.COM",
        "jean.dupont@example.com",
        "JEAN.DUPONT@EXAMPLE.COM",
        "john.doe@example.com",
        "a@b.co",
        "user+tag@gmail.com",
        "User+Tag@GMail.Com",
        "first.last@sub.domain.example.org",
        "x@x.io",
        "o'brien@example.ie",
        "user@mail.Example.Co.UK",
        "1234567890@example.com",
        "user@123.example.com",
        "user@example-domain.com",
        "user@a-b-c.d-e-f.com",
        "user@EXAMPLE.com",
        "USER@example.COM",
        "MiXeD.CaSe@MiXeD.CaSe.OrG",
        "a.b.c.d.e@example.com",
        "a_b@example.com",
        "a-b@example.com",
        # IDNA / Punycode and Unicode domains.
        "user@xn--bcher-kva.de",
        "User@XN--BCHER-KVA.DE",
        "user@Xn--Bcher-Kva.De",
        "user@b\u00fccher.de",
        "user@B\u00dcCHER.de",
        "user@m\u00fcnchen.de",
        "user@xn--mnchen-3ya.de",
        "user@xn--fiqs8s.cn",
        "user@\u4e2d\u56fd.cn",
        "user@xn--p1ai",
        "user@xn--e1afmkfd.xn--p1ai",
        "user@\u043f\u0440\u0438\u043c\u0435\u0440.\u0440\u0444",
        "user@\u4f8b\u3048.\u30c6\u30b9\u30c8",
        "user@xn--r8jz45g.xn--zckzah",
        "user@\u00c9XAMPLE.com",
        "user@ex\u00e4mple.com",
        "user@example\u3002com",  # ideographic full stop
        "user@example\uff0ecom",  # fullwidth full stop
        "user@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com",  # fullwidth letters
        "user@fa\u00df.de",
        "user@xn--fa-hia.de",
        "user@stra\u00dfe.de",
        "user@xn--invalid-.com",
        "user@xn--a.com",
        "user@xn--.com",
        "user@xn--zz.com",
        "user@xn--ls8h.la",  # emoji, not IDNA 2008
        "user@\U0001f4a9.la",
        "user@xn--4dbc.1.com",  # right-to-left label next to a digit-only label
        "user@1.xn--4dbc.com",
        "user@xn--4dbc.com",
        "user@XN--4DBC.COM",
        "user@xn--a-ecp.ru",
        "user@xn--80ak6aa92e.com",
        "user@xn--" + "a" * 60 + ".com",
        "user@xn--" + "a" * 59 + ".com",
        # Unicode local parts.
        "j\u00f6s\u00e9@example.com",
        "J\u00d6S\u00c9@Example.COM",
        "\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a",
        "\u03b8\u03c3\u03b5\u03c1@\u03b5\u03c7\u03b1\u03bc\u03c0\u03bb\u03b5.\u03c8\u03bf\u03bc",
        "Pel\u00e9@example.com",
        "e\u0301@example.com",  # decomposed, NFC changes it
        "\u0301e@example.com",  # combining mark first
        "\u0133@example.com",
        "\ufb01@example.com",
        "\u01c5@example.com",
        "\u0130nfo@example.com",
        "\u0131nfo@example.com",
        "INFO\u0130@example.com",
        "caf\u00e9@caf\u00e9.fr",
        "\u00fc@xn--bcher-kva.de",
        "user\u2028@example.com",
        "user\ue000@example.com",  # private use
        "user\u202e@example.com",  # right-to-left override
        # Quoted local parts.
        '"john doe"@example.com',
        '"john.doe"@example.com',
        '"JohnDoe"@Example.com',
        '"a@b"@example.com',
        '"a\\"b"@example.com',
        '""@example.com',
        '"john..doe"@example.com',
        '"Abc\\@def"@example.com',
        '"test\\\\blah"@example.com',
        '"unterminated@example.com',
        'a"b@example.com',
        '"a"b@example.com',
        '"Postmaster"@example.com',
        '"POSTMASTER"@Example.com',
        '" "@example.com',
        '"\u00e9"@example.com',
        '"a\tb"@example.com',
        '"a\nb"@example.com',
        '"a"@b',
        '"a"@bad_domain.com',
        # Display names.
        "Jean Dupont <jean@example.com>",
        '"Dupont, Jean" <jean@example.com>',
        "<jean@example.com>",
        "Jean <jean@example.com",
        "Jean jean@example.com>",
        "Jean <jean@example.com> trailing",
        "Jean.Dupont <jean@example.com>",
        " Jean <jean@Example.COM> ",
        "Jean <jean@example.com>  ",
        "Jean<jean@example.com>",
        "<Postmaster@Example.com>",
        "Name <a@b>",
        "Name <a@bad_domain.com>",
        # Dots.
        ".user@example.com",
        "user.@example.com",
        "us..er@example.com",
        "user@.example.com",
        "user@example..com",
        "user@example.com.",
        "user@example.com..",
        ".@example.com",
        "..@example.com",
        ".@.",
        "user@.",
        "user@..",
        # Local part of 64 and 65 characters.
        "a" * 64 + "@example.com",
        "a" * 65 + "@example.com",
        "A" * 64 + "@Example.com",
        "A" * 65 + "@Example.com",
        "b" * 63 + ".@example.com",
        "b" * 62 + ".c@example.com",
        "b" * 63 + "c.d@example.com",
        # Domain labels of 63 and 64 characters.
        "user@" + "a" * 63 + ".com",
        "user@" + "a" * 64 + ".com",
        "user@" + "A" * 63 + ".COM",
        "user@" + "a" * 63 + "." + "b" * 63 + ".com",
        "user@sub." + "a" * 64,
        # Numeric TLDs and single-label domains.
        "user@example.123",
        "user@1.2.3.4",
        "user@123",
        "user@example.c0m",
        "user@example.1com",
        "user@example.com1",
        "user@localhost",
        "user@com",
        "user@test",
        "user@example",
        "user@Example",
        "a@b",
        # Special-use domains.
        "user@printer.local",
        "user@EXAMPLE.LOCAL",
        "user@foo.localhost",
        "user@example.test",
        "user@mail.example.TEST",
        "user@foo.invalid",
        "user@xyz.onion",
        "user@1.168.192.in-addr.arpa",
        "user@arpa.com",
        "user@example.com",
        "user@example.org",
        "user@example.net",
        "user@local.com",
        "user@test.com",
        "user@onion.example.com",
        # Invalid domain characters.
        "user@exa_mple.com",
        "user@_dmarc.example.com",
        "user@exa mple.com",
        "user@exa!mple.com",
        "user@example.com/path",
        "user@exa*mple.com",
        "user@example,com",
        "user@example;com",
        "user@exa+mple.com",
        "user@exa'mple.com",
        "user@exa\\mple.com",
        'user@exa"mple.com',
        # Hyphens.
        "user@-example.com",
        "user@example-.com",
        "user@ex--ample.com",
        "user@ab--cd.com",
        "user@xn--ample.com",
        "user@a-.b.com",
        "user@a.-b.com",
        "user@example.com-",
        "user@example.-com",
        "user@-",
        "user@a-b.com",
        "user@a--b.com",
        "user@abc-.com",
        # IP literals.
        "user@[1.2.3.4]",
        "user@[IPv6:::1]",
        "user@[ipv6:2001:db8::1]",
        "user@[999.1.1.1]",
        "user@[1.2.3]",
        "user@[foo:bar]",
        "user@[IPv6:fe80::1%eth0]",
        "user@[]",
        "user@[1.2.3.4",
        "user@1.2.3.4]",
        # Multiple, missing and misplaced @-signs; empty parts.
        "a@b@example.com",
        "a@b@c",
        "user@@example.com",
        "user@example.com@",
        "@example.com",
        "user@",
        "@",
        "@@",
        "",
        "user",
        "userexample.com",
        "user@example.com@example.com",
        # Every atext special together and alone.
        ATEXT_SPECIALS + "@example.com",
        ATEXT_SPECIALS.upper() + "@EXAMPLE.COM",
        # Spaces, controls, separators, brackets and comments.
        "user name@example.com",
        " user@example.com",
        "user@example.com ",
        "user\t@example.com",
        "\tuser@example.com",
        "user@example.com\n",
        "user@example.com\r\n",
        "user\n@example.com",
        "user,name@example.com",
        "user;name@example.com",
        "a@b.com,c@d.com",
        "a@b.com;c@d.com",
        "user<name@example.com",
        "user>name@example.com",
        "user(comment)@example.com",
        "(comment)user@example.com",
        "user@(comment)example.com",
        "user@example.com(comment)",
        "user\u00a0@example.com",
        "user\u00a0name@example.com",
        "user@example\u00a0.com",
        "user@\u00a0example.com",
        "\u200buser@example.com",
        "user\u200b@example.com",
        "user@exa\u200bmple.com",
        "user@exa\u200dmple.com",
        "user@exa\u200cmple.com",
        "user\ufeff@example.com",
        "user@example.com\ufeff",
        "user\uff20example.com",  # fullwidth @
        "user\ufe6bexample.com",  # small commercial at
        "user\uff20example.com@example.com",
        "user\\@example.com",
        'user"@example.com',
        "user[at]example.com",
        "user[@example.com",
        "user]@example.com",
        "user:name@example.com",
        "user\x00@example.com",
        "user\x7f@example.com",
        "user@example.com\x00",
        "user@exam\u00adple.com",  # soft hyphen
        "user@\u2488example.com",  # digit one full stop
        "user@example\u2024com",  # one dot leader
        # The long-Punycode-domain cases: the normalised address is longer than the input.
        "a@" + _LONG_IDN_DOMAIN,
        "x" * 40 + "@" + _LONG_IDN_DOMAIN,
        "x" * 64 + "@" + _LONG_IDN_DOMAIN,
        "a@" + _TOO_LONG_IDN_DOMAIN,
        "x" * 40 + "@" + _TOO_LONG_IDN_DOMAIN,
        "x" * 64 + "@" + _TOO_LONG_IDN_DOMAIN,
    ]

    # Each atext special inside, at the start and at the end of a local part, and in a domain.
    for char in ATEXT_SPECIALS:
        cases += [
            f"a{char}b@example.com",
            f"{char}@example.com",
            f"{char}a@Example.com",
            f"a{char}@example.COM",
            f"a@exa{char}mple.com",
        ]

    # RFC 2142 mailbox names, which email-validator lowercases, in several cases.
    for name in CASE_INSENSITIVE_MAILBOX_NAMES:
        cases += [
            f"{name}@example.com",
            f"{name.upper()}@Example.com",
            f"{name.capitalize()}@EXAMPLE.COM",
            f"{name[0]}{name[1:].upper()}@example.org",
            f"{name}+tag@example.com",
            f"{name}.x@example.com",
            f"{name}@bad_domain.com",
            f"{name.upper()}@xn--bcher-kva.de",
        ]
    cases += [
        "Postmaster@Example.com",
        "POSTMASTER@EXAMPLE.COM",
        "postmaster@example.invalid",
        "PostMaster+tag@example.com",
        "Info.Sales@example.com",
        "postmaster@localhost",
    ]

    # Total lengths around 254/255, with the domain at and around its own 253 limit.
    for total in (252, 253, 254, 255, 256):
        for local in ("a", "A", "Ab", "local.part", "Z" * 30, "y" * 64):
            domain_length = total - len(local) - 1
            if 5 <= domain_length <= 260:
                cases.append(f"{local}@{_domain_of_length(domain_length)}")
                cases.append(f"{local}@{_domain_of_length(domain_length).upper()}")
    for domain_length in (251, 252, 253, 254):
        cases.append(f"a@{_domain_of_length(domain_length)}")
        cases.append(f"postmaster@{_domain_of_length(domain_length)}")

    # The same domains, valid and invalid, with many local parts: exercises the domain cache.
    cached_domains = [
        "example.com",
        "EXAMPLE.COM",
        "Example.Com",
        "bad_domain.com",
        "example.local",
        "exa..mple.com",
        "xn--a.com",
        "xn--bcher-kva.de",
        "-bad.com",
        "nodot",
        "example.123",
        _LONG_IDN_DOMAIN,
        _TOO_LONG_IDN_DOMAIN,
        _domain_of_length(240),
    ]
    cached_locals = [
        "a",
        "b.c",
        "x+y",
        "Jean.Dupont",
        "z" * 64,
        "postmaster",
        "Info",
        "\u00fcn\u00ef",
        '"q"',
        ".lead",
        "trail.",
        ATEXT_SPECIALS,
    ]
    for domain in cached_domains:
        for local in cached_locals:
            cases.append(f"{local}@{domain}")
    return cases


def _random_cases(count: int) -> list[str]:
    rng = random.Random(20240501)
    local_good = string.ascii_letters + string.digits
    local_rare = ATEXT_SPECIALS + "." + "\u00e9\u00fc\u00df\u4e2d\u03a3\u0130"
    local_bad = ' ,;<>()[]:"\\@\t\u00a0\u200b\uff20\n'
    domain_pool = [
        "example.com",
        "Example.COM",
        "gmail.com",
        "mail.example.co.uk",
        "xn--bcher-kva.de",
        "b\u00fccher.de",
        "bad_domain.com",
        "example.local",
        "example",
        "exa..mple.com",
        "example.com.",
        "-example.com",
        "[1.2.3.4]",
        _LONG_IDN_DOMAIN,
        _TOO_LONG_IDN_DOMAIN,
    ]
    label_chars = string.ascii_letters + string.digits + "-"
    label_rare = "_\u00e9\u00fc .!"

    def pick(common: str, rare: str, bad: str, rare_rate: float, bad_rate: float) -> str:
        roll = rng.random()
        if roll < bad_rate:
            return rng.choice(bad)
        if roll < bad_rate + rare_rate:
            return rng.choice(rare)
        return rng.choice(common)

    def random_domain() -> str:
        if rng.random() < 0.5:
            return rng.choice(domain_pool)
        labels = []
        for _ in range(rng.randint(1, 4)):
            if rng.random() < 0.1:
                size = rng.choice([1, 2, 3, 5, 8, 12, 63, 64])
            else:
                size = rng.randint(1, 10)
            labels.append("".join(pick(label_chars, label_rare, "", 0.04, 0) for _ in range(size)))
        return ".".join(labels)

    cases = []
    for _ in range(count):
        bad_rate = rng.choice([0.0, 0.0, 0.02, 0.1])
        length = rng.choice([rng.randint(1, 12), rng.randint(1, 12), rng.randint(55, 70)])
        local = "".join(
            pick(local_good, local_rare, local_bad, 0.1, bad_rate) for _ in range(length)
        )
        case = f"{local}@{random_domain()}"
        if rng.random() < 0.05:
            case = f"Name <{case}>"
        cases.append(case)
    return cases


def _corpus() -> list[str]:
    return list(dict.fromkeys(_fixed_cases() + _random_cases(320)))


CORPUS = _corpus()


def test_corpus_is_large_and_varied():
    assert len(CORPUS) >= 400
    checker = EmailChecker(check_deliverability=False)
    verdicts = [checker.full(address) for address in CORPUS]
    valid = sum(v.normalized is not None for v in verdicts)
    # Both sides of the fence are well represented.
    assert valid >= 150
    assert len(verdicts) - valid >= 150


def test_fast_path_agrees_with_email_validator_on_the_corpus():
    checker = EmailChecker(check_deliverability=False)  # one instance: the domain cache is shared
    mismatches: list[str] = []
    for pass_number in (1, 2):  # the second pass is answered from the warm cache
        for address in CORPUS:
            fast, full = checker.check(address), checker.full(address)
            if fast != full:
                mismatches.append(
                    f"pass {pass_number}: {address!r}\n    check: {fast}\n    full:  {full}"
                )
    assert not mismatches, f"{len(mismatches)} disagreement(s):\n" + "\n".join(mismatches)


def test_long_punycode_domain_is_measured_after_normalisation():
    # The Unicode form of an xn-- domain can be far longer in UTF-8 than the input, so the
    # address can be too long after normalisation although len(input) <= 254.
    checker = EmailChecker(check_deliverability=False)
    short = "a@" + _LONG_IDN_DOMAIN
    long = "x" * 64 + "@" + _LONG_IDN_DOMAIN
    assert len(long) <= 254
    assert checker.check(short) == checker.full(short)
    assert checker.full(long).normalized is None
    assert checker.check(long) == checker.full(long)

    # A domain too long after normalisation even for "a": the byte count depends on the local part.
    checker = EmailChecker(check_deliverability=False)
    for local in ("a", "x" * 40):
        address = f"{local}@{_TOO_LONG_IDN_DOMAIN}"
        assert checker.check(address) == checker.full(address)


def test_known_verdicts():
    checker = EmailChecker(check_deliverability=False)
    for check in (checker.check, checker.full):
        assert check("Jean.Dupont@Example.COM") == EmailVerdict("Jean.Dupont@example.com")
        assert check("Postmaster@Example.com") == EmailVerdict("postmaster@example.com")
        assert check("INFO@EXAMPLE.ORG") == EmailVerdict("info@example.org")
        assert check("user@xn--bcher-kva.de") == EmailVerdict("user@b\u00fccher.de")
        assert check("a" * 64 + "@example.com").normalized == "a" * 64 + "@example.com"
        for invalid in (
            "a@b",
            "user@example.local",
            "user@bad_domain.com",
            "us..er@example.com",
            "@example.com",
            "user@",
            "user",
            "user\uff20example.com",
            "user@[1.2.3.4]",
            "Jean <jean@example.com>",
            '"john doe"@example.com',
        ):
            verdict = check(invalid)
            assert verdict.normalized is None and verdict.error, (invalid, verdict)
        assert check("a@b") == EmailVerdict(
            None, "The part after the @-sign is not valid. It should have a period."
        )


class _CountingChecker(EmailChecker):
    def __init__(self) -> None:
        super().__init__(check_deliverability=False)
        self.full_calls = 0

    def full(self, address: str) -> EmailVerdict:
        self.full_calls += 1
        return super().full(address)


def test_fast_path_is_taken_for_plain_addresses():
    checker = _CountingChecker()
    domains = [f"Domain{n}.Example.com" for n in range(10)]
    verdicts = [checker.check(f"User.{i}+x@{domains[i % 10]}") for i in range(1000)]
    assert checker.full_calls <= 10
    assert verdicts[3] == EmailVerdict("User.3+x@domain3.example.com")
    assert all(v.normalized is not None for v in verdicts)

    # An invalid domain of plain characters is also validated once, then answered from the cache.
    for bad_domain in ("example.local", "exa..mple.com", "nodot"):
        checker = _CountingChecker()
        verdicts = [checker.check(f"user{i}@{bad_domain}") for i in range(100)]
        assert checker.full_calls == 1
        assert len(set(verdicts)) == 1 and verdicts[0].normalized is None


def _random_hostnames(count: int) -> list[str]:
    """Host names near the edges of the plain-hostname fast path: hyphens, digits, label
    lengths 62-64, numeric or one-letter TLDs, special-use suffixes, mixed case."""
    rng = random.Random(20261122)
    alphabet = "abcXYZ0189-"
    tlds = ["com", "FR", "io", "x", "123", "co.uk", "local", "localhost", "test", "onion", "a1"]
    names = []
    for _ in range(count):
        labels = []
        for _label in range(rng.randint(1, 3)):
            length = rng.choice([1, 2, 5, 62, 63, 64])
            labels.append("".join(rng.choice(alphabet) for _c in range(length)))
        names.append(".".join([*labels, rng.choice(tlds)]))
    return names


def test_fast_hostname_path_agrees_with_email_validator():
    checker = EmailChecker(check_deliverability=False)
    disagreements = []
    for host in _random_hostnames(3000):
        address = f"someone@{host}"
        fast, full = checker.check(address), checker.full(address)
        if fast != full:
            disagreements.append((address, fast, full))
    assert not disagreements, disagreements[:20]
