"""System checks: configuration mistakes fail `manage.py check` (and every deploy) early,
not on the first request that needs the setting."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from fluenzr.fields import fernet


@register()
def check_field_encryption_keys(app_configs: Any, **kwargs: Any) -> list[Error]:
    try:
        fernet()
    except ImproperlyConfigured as error:
        return [Error(str(error), id="fluenzr.E001")]
    return []
