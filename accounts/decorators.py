from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


def workspace_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Signed in, with a workspace resolved; someone with none is asked to create one."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.workspace is None:
            return redirect("workspace_new")
        return view(request, *args, **kwargs)

    return wrapper
