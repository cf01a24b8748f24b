from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest

from accounts.models import User


class AccountAdapter(DefaultAccountAdapter):
    def save_user(self, request: HttpRequest, user: User, form, commit: bool = True) -> User:
        # Remember the language the person signed up in.
        user.language = getattr(request, "LANGUAGE_CODE", "") or ""
        return super().save_user(request, user, form, commit=commit)
