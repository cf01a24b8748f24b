"""API infrastructure state: replayable responses for `Idempotency-Key`."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from accounts.tenancy import WorkspaceOwnedModel


class IdempotencyRecord(WorkspaceOwnedModel):
    """The first response to a POST carrying an Idempotency-Key, kept for 24 hours."""

    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64)  # sha256 of method, path and body
    status_code = models.PositiveSmallIntegerField(null=True)  # null while in progress
    response_body = models.JSONField(null=True, encoder=DjangoJSONEncoder)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="idempotency_unique_key")
        ]

    def __str__(self) -> str:
        return self.key
