from django.http import HttpRequest

from accounts.selectors import memberships_of_user


def workspace(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {
        "workspace": getattr(request, "workspace", None),
        # Lazy: evaluated only by templates that show the switcher.
        "user_memberships": memberships_of_user(user=user),
    }
