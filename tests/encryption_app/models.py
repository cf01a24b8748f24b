"""A test-only model that carries an encrypted field (apps add real ones later)."""

from django.db import models

from fluenzr.fields import EncryptedTextField


class SecretNote(models.Model):
    label = models.CharField(max_length=50)
    secret = EncryptedTextField(blank=True)

    class Meta:
        app_label = "encryption_app"

    def __str__(self) -> str:
        return self.label
