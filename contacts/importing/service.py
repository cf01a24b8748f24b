"""CSV imports: upload and inspect, choose the mapping, run in the background, recover.

The run is claimed by a conditional UPDATE (queued → running), so a redelivered task is
harmless; a sweep requeues imports whose worker died. On PostgreSQL nothing reaches the
contacts table before the whole file has been read and checked (one final transaction); the
SQLite development path writes batch by batch.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from accounts.errors import ServiceError
from accounts.models import User, Workspace
from accounts.services import require_in_workspace
from accounts.tenancy import workspace_scope
from contacts.emails import EmailChecker
from contacts.importing.columns import CUSTOM_PREFIX, IGNORE, IMPORT_FIELDS, guess_mapping
from contacts.importing.rows import ImportAborted, RowProblem, read_rows
from contacts.importing.sniff import UnreadableFile, sniff
from contacts.importing.writers import UpsertCounts, writer_for
from contacts.models import ContactList, Import, ImportRowError, ImportStatus, OnDuplicate
from contacts.services.lists import list_create
from webhooks.events import emit

logger = logging.getLogger(__name__)

BATCH_ROWS = 5000
ABANDONED_AFTER = timedelta(days=1)
# Longer than any heartbeat gap: the final merge of a million rows sends none for a minute.
STALLED_AFTER = timedelta(minutes=30)
_CUSTOM_KEY_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def import_payload(source_import: Import) -> dict[str, Any]:
    return {
        "id": str(source_import.pk),
        "url": f"/api/v1/imports/{source_import.pk}/",
        "number": source_import.number,
        "filename": source_import.filename,
        "status": source_import.status,
        "rows_read": source_import.rows_read,
        "created": source_import.created_count,
        "updated": source_import.updated_count,
        "skipped_duplicates": source_import.duplicate_count,
        "invalid": source_import.invalid_count,
    }


# Upload and mapping -----------------------------------------------------------------------


def _next_number(workspace: Workspace) -> int:
    last = Import.objects.for_workspace(workspace).aggregate(n=Max("number"))["n"]
    return (last or 0) + 1


def import_create(*, workspace: Workspace, actor: User | None, upload: UploadedFile) -> Import:
    """Stores the file and reads its shape: a draft waiting for its mapping."""
    limit = settings.CONTACTS_IMPORT_MAX_BYTES
    if upload.size > limit:
        raise ServiceError(
            _(
                "The file is %(size)s MB; the most one import takes is %(max)s MB. Split it "
                "into several files."
            )
            % {
                "size": number_format(upload.size / 1e6, decimal_pos=1),
                "max": number_format(limit / 1e6, decimal_pos=0),
            },
            field="file",
        )
    try:
        shape = sniff(upload.file)
    except UnreadableFile as error:
        raise ServiceError(str(error), field="file") from None
    upload.file.seek(0)
    for _attempt in range(3):  # two uploads at once may pick the same number
        try:
            with transaction.atomic():
                return Import.objects.create(
                    workspace=workspace,
                    number=_next_number(workspace),
                    file=upload,
                    filename=os.path.basename(upload.name or "contacts.csv")[:255],
                    size_bytes=upload.size,
                    encoding=shape.encoding,
                    delimiter=shape.delimiter,
                    headers=shape.headers,
                    preview_rows=shape.preview_rows,
                    mapping=guess_mapping(shape.headers),
                    created_by=actor,
                )
        except IntegrityError:
            continue
    raise ServiceError(_("Several imports started at once; try again."), field="file")


def _clean_mapping(source_import: Import, mapping: list[str]) -> list[str]:
    headers = source_import.headers
    if len(mapping) != len(headers):
        raise ServiceError(
            _("Give one choice per column: the file has %(n)d columns.") % {"n": len(headers)},
            field="mapping",
        )
    seen: set[str] = set()
    for target in mapping:
        if target == IGNORE:
            continue
        if target.startswith(CUSTOM_PREFIX):
            key = target[len(CUSTOM_PREFIX) :]
            if not key or len(key) > 64 or not set(key) <= _CUSTOM_KEY_CHARS:
                raise ServiceError(
                    _(
                        "“%(key)s” cannot be a custom field name: use up to 64 letters, digits "
                        "and underscores, as in companySize."
                    )
                    % {"key": key},
                    field="mapping",
                )
        elif target not in IMPORT_FIELDS:
            raise ServiceError(
                _("“%(target)s” is not a contact field.") % {"target": target}, field="mapping"
            )
        if target in seen:
            label = IMPORT_FIELDS.get(target, target)
            raise ServiceError(
                _("Two columns are mapped to “%(field)s”; choose one.") % {"field": label},
                field="mapping",
            )
        seen.add(target)
    if "email" not in seen:
        raise ServiceError(
            _(
                "No column holds the email address. The columns found are: %(headers)s. "
                "Choose which one is the email."
            )
            % {"headers": ", ".join(_("“%(header)s”") % {"header": h} for h in headers)},
            field="mapping",
        )
    return list(mapping)


@transaction.atomic  # a refused mapping leaves no new list behind
def import_start(
    *,
    workspace: Workspace,
    source_import: Import,
    mapping: list[str] | None = None,
    target_list: ContactList | None = None,
    new_list_name: str = "",
    on_duplicate: str = OnDuplicate.SKIP,
) -> Import:
    """Confirms the mapping and options and queues the run. `new_list_name` creates the list
    the contacts go to."""
    require_in_workspace(source_import, workspace)
    if target_list is not None:
        require_in_workspace(target_list, workspace)
    if source_import.status != ImportStatus.DRAFT:
        raise ServiceError(_("This import has already started."))
    if on_duplicate not in OnDuplicate.values:
        raise ServiceError(_("Choose skip or update for existing contacts."), field="on_duplicate")
    source_import.mapping = _clean_mapping(
        source_import, source_import.mapping if mapping is None else mapping
    )
    if new_list_name.strip():
        try:
            target_list = list_create(workspace=workspace, name=new_list_name)
        except ServiceError as error:
            raise ServiceError(error.message, field="new_list") from None
    source_import.target_list = target_list
    source_import.on_duplicate = on_duplicate
    source_import.status = ImportStatus.QUEUED
    source_import.queued_at = timezone.now()
    # Only a draft starts, once: a second submit of the form finds it queued already.
    started = (
        Import.objects.for_workspace(workspace)
        .filter(pk=source_import.pk, status=ImportStatus.DRAFT)
        .update(
            mapping=source_import.mapping,
            target_list=target_list,
            on_duplicate=on_duplicate,
            status=ImportStatus.QUEUED,
            queued_at=source_import.queued_at,
        )
    )
    if not started:
        raise ServiceError(_("This import has already started."))
    _enqueue(source_import)
    return source_import


def import_discard(*, workspace: Workspace, source_import: Import) -> None:
    """Drops a draft that will not run (its mapping was refused), with its stored file."""
    require_in_workspace(source_import, workspace)
    if source_import.status == ImportStatus.DRAFT:
        source_import.file.delete(save=False)
        source_import.delete()


def _enqueue(source_import: Import) -> None:
    from contacts.tasks import import_run

    pk = str(source_import.pk)
    transaction.on_commit(lambda: import_run.delay(pk))


# The run --------------------------------------------------------------------------------------


def _claim(import_id: str) -> bool:
    now = timezone.now()
    claimed = (
        Import.objects.unscoped()
        .filter(pk=import_id, status=ImportStatus.QUEUED)
        .update(
            status=ImportStatus.RUNNING,
            started_at=now,
            heartbeat_at=now,
            progress_percent=0,
            rows_read=0,
            created_count=0,
            updated_count=0,
            duplicate_count=0,
            invalid_count=0,
            error="",
        )
    )
    return claimed == 1


def import_run(*, import_id: str) -> None:
    if not _claim(import_id):
        return  # already running, finished, or not queued: a redelivery
    source_import = (
        Import.objects.unscoped().select_related("workspace", "created_by").get(pk=import_id)
    )
    language = source_import.created_by.language if source_import.created_by else "en"
    with workspace_scope(source_import.workspace), translation.override(language or "en"):
        try:
            _run(source_import)
        except ImportAborted as error:
            _finish_failed(source_import, str(error))
        except Exception:
            logger.exception("import %s failed", import_id)
            _finish_failed(
                source_import,
                _(
                    "The import stopped because of an error on our side. Upload the file "
                    "again; if it fails again, contact support with import #%(number)s."
                )
                % {"number": source_import.number},
            )


def _progress(source_import: Import, *, percent: int, rows: int, invalid: int) -> None:
    Import.objects.unscoped().filter(pk=source_import.pk).update(
        progress_percent=percent, rows_read=rows, invalid_count=invalid, heartbeat_at=timezone.now()
    )


def _run(source_import: Import) -> None:
    ImportRowError.objects.filter(source_import=source_import).delete()  # from a dead run
    workspace = source_import.workspace
    checker = EmailChecker()
    rows_read = invalid = 0
    staged: list[tuple] = []
    problems: list[ImportRowError] = []
    size = max(source_import.size_bytes, 1)
    with source_import.file.open("rb") as raw, writer_for(source_import) as writer:

        def flush() -> None:
            if staged:
                writer.stage(staged)
                staged.clear()
            if problems:
                ImportRowError.objects.bulk_create(problems)
                problems.clear()
            # Reading is 90% of the bar; the final upsert is the rest.
            percent = min(90, int(90 * raw.tell() / size))
            _progress(source_import, percent=percent, rows=rows_read, invalid=invalid)

        for item in read_rows(
            raw,
            encoding=source_import.encoding,
            delimiter=source_import.delimiter,
            mapping=source_import.mapping,
            checker=checker,
            max_rows=settings.CONTACTS_IMPORT_MAX_ROWS,
        ):
            rows_read += 1
            if isinstance(item, RowProblem):
                invalid += 1
                problems.append(
                    ImportRowError(
                        source_import=source_import,
                        line=item.line,
                        email=item.email,
                        code=item.code,
                        detail=item.detail[:500],
                    )
                )
            else:
                staged.append(item)
            if len(staged) + len(problems) >= BATCH_ROWS:
                flush()
        flush()
        with transaction.atomic():
            counts = writer.upsert(workspace=workspace)
            _finish_done(source_import, rows_read=rows_read, invalid=invalid, counts=counts)


def _finish_done(
    source_import: Import, *, rows_read: int, invalid: int, counts: UpsertCounts
) -> None:
    source_import.status = ImportStatus.DONE
    source_import.progress_percent = 100
    source_import.rows_read = rows_read
    source_import.invalid_count = invalid
    source_import.created_count = counts.created
    source_import.updated_count = counts.updated
    source_import.duplicate_count = counts.duplicates
    source_import.finished_at = timezone.now()
    source_import.save()
    _delete_upload_after_commit(source_import)
    emit(
        workspace=source_import.workspace,
        type="import.completed",
        data={"import": import_payload(source_import)},
    )


def _finish_failed(source_import: Import, message: str) -> None:
    with transaction.atomic():
        ImportRowError.objects.filter(source_import=source_import).delete()
        source_import.status = ImportStatus.FAILED
        source_import.error = message
        source_import.finished_at = timezone.now()
        source_import.save(update_fields=["status", "error", "finished_at"])
        _delete_upload_after_commit(source_import)
        emit(
            workspace=source_import.workspace,
            type="import.completed",
            data={"import": {**import_payload(source_import), "error": message}},
        )


def _delete_upload_after_commit(source_import: Import) -> None:
    """The rows are in the database now; the uploaded copy of the file is not kept."""
    storage, name = source_import.file.storage, source_import.file.name
    transaction.on_commit(lambda: storage.delete(name))


def imports_discard_abandoned() -> int:
    """Drafts nobody finished mapping in a day go, with their uploaded file."""
    abandoned = Import.objects.unscoped().filter(
        status=ImportStatus.DRAFT, created_at__lt=timezone.now() - ABANDONED_AFTER
    )
    count = 0
    for draft in abandoned.iterator():
        draft.file.delete(save=False)
        draft.delete()
        count += 1
    return count


def imports_requeue_stalled() -> int:
    """Imports whose worker died (no heartbeat) or whose task was lost go back in the queue."""
    cutoff = timezone.now() - STALLED_AFTER
    stalled = list(
        Import.objects.unscoped()
        .filter(status=ImportStatus.RUNNING, heartbeat_at__lt=cutoff)
        .values_list("pk", flat=True)
    )
    Import.objects.unscoped().filter(pk__in=stalled, status=ImportStatus.RUNNING).update(
        status=ImportStatus.QUEUED, queued_at=timezone.now()
    )
    lost = list(
        Import.objects.unscoped()
        .filter(status=ImportStatus.QUEUED, queued_at__lt=cutoff)
        .values_list("pk", flat=True)
    )
    from contacts.tasks import import_run

    for pk in {*stalled, *lost}:
        import_run.delay(str(pk))
    return len({*stalled, *lost})
