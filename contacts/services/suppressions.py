"""Every write to the suppression list."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field

from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from accounts.errors import ServiceError
from accounts.models import User, Workspace
from accounts.services import require_in_workspace
from contacts.emails import EmailChecker, clean_email
from contacts.importing.sniff import UnreadableFile, open_text, sniff
from contacts.models import Suppression, SuppressionKind, SuppressionReason

# Suppression list ---------------------------------------------------------------------------


def suppression_parse(value: str) -> tuple[str, str]:
    """'Jean@Acme.com' → ('email', 'jean@acme.com'); '@acme.com' or 'acme.com' → a domain."""
    value = (value or "").strip().lower()
    if not value:
        raise ServiceError(_("Enter an email address or a domain."), field="value")
    if "@" in value.lstrip("@"):
        try:
            return SuppressionKind.EMAIL, clean_email(value, syntax_only=True).lower()
        except ServiceError as error:
            raise ServiceError(error.message, field="value") from None
    domain = value.lstrip("@")
    verdict = EmailChecker(check_deliverability=False).full(f"a@{domain}")
    if verdict.normalized is None:
        raise ServiceError(
            _("“%(value)s” is neither an email address nor a domain such as acme.com.")
            % {"value": value},
            field="value",
        )
    return SuppressionKind.DOMAIN, verdict.normalized.partition("@")[2].lower()


def suppression_add(
    *,
    workspace: Workspace,
    value: str,
    reason: str = SuppressionReason.MANUAL,
    source: str = "",
    actor: User | None = None,
) -> tuple[Suppression, bool]:
    """Adds an address or domain; an existing entry is kept as it is. Returns (entry, new)."""
    if reason not in SuppressionReason.values:
        raise ServiceError(_("Choose a valid reason."), field="reason")
    kind, normalized = suppression_parse(value)
    existing = Suppression.objects.for_workspace(workspace).filter(value=normalized).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            suppression = Suppression.objects.create(
                workspace=workspace,
                kind=kind,
                value=normalized,
                reason=reason,
                source=source[:200],
                created_by=actor,
            )
    except IntegrityError:
        return Suppression.objects.for_workspace(workspace).get(value=normalized), False
    return suppression, True


def suppression_remove(*, workspace: Workspace, suppression: Suppression) -> None:
    require_in_workspace(suppression, workspace)
    suppression.delete()


@dataclass
class BlocklistResult:
    added: int = 0
    already: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (line, value)


BLOCKLIST_MAX_LINES = 100_000


def suppressions_import(
    *, workspace: Workspace, upload: UploadedFile, actor: User | None
) -> BlocklistResult:
    """A blocklist file: one address or domain per line, in the first column. A header row
    (a first line that is neither) is skipped; invalid lines are reported by number."""
    try:
        shape = sniff(upload.file)
    except UnreadableFile as error:
        raise ServiceError(str(error), field="file") from None
    upload.file.seek(0)
    result = BlocklistResult()
    text = open_text(upload.file, shape.encoding)
    entries: dict[str, tuple[str, str]] = {}
    try:
        reader = csv.reader(text, delimiter=shape.delimiter)
        for line, record in enumerate(reader, 1):
            value = record[0].strip() if record else ""
            if not value:
                continue
            if reader.line_num > BLOCKLIST_MAX_LINES:
                raise ServiceError(
                    _("Blocklists of up to %(max)s lines only; split the file.")
                    % {"max": number_format(BLOCKLIST_MAX_LINES, force_grouping=True)},
                    field="file",
                )
            try:
                kind, normalized = suppression_parse(value)
            except ServiceError:
                if line > 1:  # a first line that is no address is the header
                    result.invalid.append((reader.line_num, value[:100]))
                continue
            entries[normalized] = (kind, value)
    except (csv.Error, UnicodeDecodeError):
        raise ServiceError(
            _("The file could not be read as CSV. Save it as “CSV UTF-8” and try again."),
            field="file",
        ) from None
    finally:
        text.detach()
    existing = set(
        Suppression.objects.for_workspace(workspace)
        .filter(value__in=list(entries))
        .values_list("value", flat=True)
    )
    source = _("Blocklist %(file)s") % {"file": upload.name}
    Suppression.objects.for_workspace(workspace).bulk_create(
        [
            Suppression(
                workspace=workspace,
                kind=kind,
                value=value,
                reason=SuppressionReason.MANUAL,
                source=source[:200],
                created_by=actor,
            )
            for value, (kind, _original) in entries.items()
            if value not in existing
        ],
        ignore_conflicts=True,
    )
    result.already = len(existing)
    result.added = len(entries) - len(existing)
    return result
