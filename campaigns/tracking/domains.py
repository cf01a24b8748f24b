"""A workspace's custom tracking domain (Pro): `track.theirdomain.com`, a CNAME to FluenzR's
TRACKING_HOST. Links use it once its CNAME has been seen; until then, SITE_URL."""

from __future__ import annotations

import re

import dns.exception
import dns.resolver
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.errors import ServiceError
from accounts.models import Role, User, Workspace
from accounts.services import membership_require_role, workspace_require_feature
from campaigns.models import TrackingDomain, TrackingDomainStatus

_HOSTNAME_RE = re.compile(
    r"(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]"
)


def tracking_host() -> str:
    return settings.TRACKING_HOST.strip().rstrip(".").lower()


def _clean_hostname(value: str) -> str:
    hostname = (value or "").strip().lower()
    hostname = re.sub(r"^[a-z]+://", "", hostname).split("/", 1)[0].rstrip(".")
    if not hostname:
        raise ServiceError(_("Enter a host name such as track.yourdomain.com."), field="hostname")
    if not _HOSTNAME_RE.fullmatch(hostname) or hostname.count(".") < 2:
        raise ServiceError(
            _("“%(value)s” is not a sub-domain: enter one such as track.yourdomain.com.")
            % {"value": hostname},
            field="hostname",
        )
    if hostname == tracking_host():
        raise ServiceError(
            _("Enter your own sub-domain, not FluenzR's tracking host."), field="hostname"
        )
    return hostname


@transaction.atomic
def tracking_domain_set(*, workspace: Workspace, actor: User, hostname: str) -> TrackingDomain:
    """Sets (or replaces) the workspace's tracking domain; it waits for its DNS check."""
    membership_require_role(workspace=workspace, user=actor, minimum=Role.ADMIN)
    workspace_require_feature(workspace=workspace, feature="custom_tracking_domain")
    hostname = _clean_hostname(hostname)
    domain = TrackingDomain.objects.for_workspace(workspace).select_for_update().first()
    if domain is not None and domain.hostname == hostname:
        return domain
    if domain is None:
        domain = TrackingDomain(workspace=workspace)
    domain.hostname = hostname
    domain.status, domain.checked_at, domain.error = TrackingDomainStatus.PENDING, None, ""
    try:
        with transaction.atomic():
            domain.save()
    except IntegrityError:
        raise ServiceError(
            _("%(hostname)s is already used by another workspace: choose another sub-domain.")
            % {"hostname": hostname},
            field="hostname",
        ) from None
    return domain


def tracking_domain_remove(*, workspace: Workspace, actor: User) -> None:
    """Back to FluenzR's own host for every link written from now on."""
    membership_require_role(workspace=workspace, user=actor, minimum=Role.ADMIN)
    TrackingDomain.objects.for_workspace(workspace).delete()


def _resolver() -> dns.resolver.Resolver:
    nameservers = settings.TRACKING_DNS_NAMESERVERS
    resolver = dns.resolver.Resolver(configure=not nameservers)
    if nameservers:
        resolver.nameservers = list(nameservers)
        resolver.port = settings.TRACKING_DNS_PORT
    resolver.lifetime = settings.TRACKING_DNS_TIMEOUT
    return resolver


def _cname_error(hostname: str) -> str:
    """Why `hostname` does not point to the tracking host ("" when it does)."""
    target = tracking_host()
    try:
        answer = _resolver().resolve(hostname, "CNAME")
    except dns.resolver.NXDOMAIN:
        return _("%(hostname)s does not exist in DNS yet: add a CNAME record to %(target)s.") % {
            "hostname": hostname,
            "target": target,
        }
    except dns.resolver.NoAnswer:
        return _("%(hostname)s has no CNAME record: add one pointing to %(target)s.") % {
            "hostname": hostname,
            "target": target,
        }
    except (dns.exception.Timeout, dns.resolver.NoNameservers):
        return _("DNS did not answer for %(hostname)s: check again in a few minutes.") % {
            "hostname": hostname
        }
    except dns.exception.DNSException as error:
        return _("DNS lookup failed for %(hostname)s (%(error)s): check again later.") % {
            "hostname": hostname,
            "error": type(error).__name__,
        }
    found = [record.target.to_text(omit_final_dot=True).lower() for record in answer]
    if target in found:
        return ""
    return _("%(hostname)s points to %(found)s, not %(target)s: change its CNAME record.") % {
        "hostname": hostname,
        "found": ", ".join(found),
        "target": target,
    }


def tracking_domain_check(*, workspace: Workspace) -> TrackingDomain | None:
    """Looks up the domain's CNAME now and stores the verdict (never inside a transaction: DNS
    can take seconds)."""
    domain = TrackingDomain.objects.for_workspace(workspace).first()
    if domain is None:
        return None
    error = _cname_error(domain.hostname)
    domain.status = TrackingDomainStatus.FAILED if error else TrackingDomainStatus.VERIFIED
    domain.error = error[:300]
    domain.checked_at = timezone.now()
    TrackingDomain.objects.for_workspace(workspace).filter(
        pk=domain.pk, hostname=domain.hostname
    ).update(status=domain.status, error=domain.error, checked_at=domain.checked_at)
    return domain
