"""Email address validation: email-validator's verdict, fast enough for a million-row import.

`check_email` gives exactly what `email_validator.validate_email` gives (the normalised address,
or its error message). Most addresses are plain `local@host.tld` with a domain shared by
many rows, so a plain ASCII local part is checked by a regular expression that accepts only
what email-validator accepts unchanged, and the domain is validated once by email-validator
and remembered. Anything else goes to email-validator whole. `tests/test_email_validation.py`
holds the two to agreement on a corpus of tricky addresses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings
from django.utils.translation import gettext as _
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES

from accounts.errors import ServiceError

# RFC 5322 dot-atom of ASCII atext, which email-validator accepts as is (its ATEXT).
_PLAIN_LOCAL_PART = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
)
_PLAIN_DOMAIN = re.compile(r"[A-Za-z0-9.-]+")
# An ASCII host name email-validator accepts unchanged but for lowercasing: LDH labels of
# 1 to 63 characters, an alphabetic TLD. ("--" anywhere, and so Punycode, takes the long way.)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_PLAIN_HOSTNAME = re.compile(rf"(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
_DOMAIN_MAX = 253
_SPECIAL_USE = tuple(SPECIAL_USE_DOMAIN_NAMES)
_LOCAL_PART_MAX = 64
_PLAIN_ADDRESS_MAX = 254
_DOMAIN_CACHE_MAX = 50_000
_TOO_LONG = "The email address is too long"


@dataclass(frozen=True, slots=True)
class EmailVerdict:
    normalized: str | None  # None when invalid
    error: str | None = None


class EmailChecker:
    """Validates addresses one by one; keeps a bounded cache of domain verdicts."""

    def __init__(self, *, check_deliverability: bool | None = None) -> None:
        if check_deliverability is None:
            check_deliverability = settings.CONTACTS_CHECK_DELIVERABILITY
        self.check_deliverability = check_deliverability
        self._domains: dict[str, EmailVerdict] = {}

    def full(self, address: str) -> EmailVerdict:
        """email-validator itself."""
        try:
            result = validate_email(address, check_deliverability=self.check_deliverability)
        except EmailNotValidError as error:
            return EmailVerdict(None, str(error))
        return EmailVerdict(result.normalized)

    def check(self, address: str) -> EmailVerdict:
        local, at, domain = address.rpartition("@")
        if (
            not at
            or len(local) > _LOCAL_PART_MAX
            or len(address) > _PLAIN_ADDRESS_MAX
            or not _PLAIN_LOCAL_PART.fullmatch(local)
            or not _PLAIN_DOMAIN.fullmatch(domain)
            or local.lower() in CASE_INSENSITIVE_MAILBOX_NAMES
        ):
            return self.full(address)
        domain_verdict = self._domains.get(domain)
        if domain_verdict is None:
            if len(self._domains) >= _DOMAIN_CACHE_MAX:  # memory stays flat on huge files
                self._domains.clear()
            domain_verdict = self._check_domain(domain)
            self._domains[domain] = domain_verdict
        if domain_verdict.normalized is None:
            if domain_verdict.error and domain_verdict.error.startswith(_TOO_LONG):
                return self.full(address)  # the byte count depends on the local part too
            return domain_verdict
        normalized = f"{local}@{domain_verdict.normalized}"
        if len(normalized.encode()) > _PLAIN_ADDRESS_MAX:  # a decoded xn-- domain can grow
            return self.full(address)
        return EmailVerdict(normalized)

    def _check_domain(self, domain: str) -> EmailVerdict:
        if not self.check_deliverability and _is_plain_hostname(domain):
            return EmailVerdict(domain.lower())
        # The local part is known good, so any error is the domain's, worded the same.
        probe = self.full(f"a@{domain}")
        return EmailVerdict(
            probe.normalized.partition("@")[2] if probe.normalized else None, probe.error
        )


def _is_plain_hostname(domain: str) -> bool:
    lowered = domain.lower()
    return (
        len(domain) <= _DOMAIN_MAX
        and "--" not in domain
        and _PLAIN_HOSTNAME.fullmatch(domain) is not None
        and not any(lowered == d or lowered.endswith(f".{d}") for d in _SPECIAL_USE)
    )


def normalize_email(address: str, *, check_deliverability: bool | None = None) -> EmailVerdict:
    """One address, for forms and the API."""
    return EmailChecker(check_deliverability=check_deliverability).full(address.strip())


def clean_email(value: str, *, field: str = "email", syntax_only: bool = False) -> str:
    """The normalised address, or a ServiceError saying what is wrong with it.

    `syntax_only` skips the DNS check (when it is on): for addresses we already hold or must
    block (a suppression, an unsubscribe), a dead domain is no reason to refuse."""
    value = (value or "").strip()
    if not value:
        raise ServiceError(_("Enter the contact's email address."), field=field)
    verdict = normalize_email(value, check_deliverability=False if syntax_only else None)
    if verdict.normalized is None:
        raise ServiceError(
            _("“%(email)s” is not a valid email address: %(reason)s")
            % {"email": value, "reason": verdict.error},
            field=field,
        )
    return verdict.normalized
