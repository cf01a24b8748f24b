"""An encrypted text field: MultiFernet with keys from FIELD_ENCRYPTION_KEYS, newest first.

Values are encrypted with the newest key and decrypted with any; `manage.py
reencrypt_fields` rewrites every stored value with the newest key after a rotation.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.strip().encode()) for key in keys])
    except (ValueError, TypeError) as error:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS holds a key that is not a valid Fernet key (32 url-safe "
            "base64-encoded bytes). Generate one with "
            "`python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`."
        ) from error


def fernet() -> MultiFernet:
    keys = tuple(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty: set at least one Fernet key.")
    return _fernet_for(keys)


class EncryptedTextField(models.TextField):
    """Text stored as a Fernet token. Not searchable or sortable by design."""

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return fernet().encrypt(str(value).encode()).decode()

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        try:
            return fernet().decrypt(value.encode()).decode()
        except InvalidToken as error:
            raise ImproperlyConfigured(
                f"Cannot decrypt {self.model.__name__}.{self.name}: none of FIELD_ENCRYPTION_KEYS "
                "matches. Keep retired keys in the list until `manage.py reencrypt_fields` has run."
            ) from error

    def get_internal_type(self) -> str:
        return "TextField"


def encrypted_fields() -> list[tuple[type[models.Model], EncryptedTextField]]:
    from django.apps import apps

    return [
        (model, field)
        for model in apps.get_models()
        if not model._meta.proxy
        for field in model._meta.local_concrete_fields  # inherited ones live in the parent table
        if isinstance(field, EncryptedTextField)
    ]


def rotate_token(token: str) -> str:
    return fernet().rotate(token.encode()).decode()
