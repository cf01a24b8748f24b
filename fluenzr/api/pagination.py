from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination as DRFCursorPagination
from rest_framework.request import Request

MAX_LIMIT = 100


class CursorPagination(DRFCursorPagination):
    """Stable pages over changing data: `?limit=` (1 to 100), `next`/`previous` links."""

    page_size = 50
    max_page_size = MAX_LIMIT
    page_size_query_param = "limit"
    ordering = ("-created_at", "-id")

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        try:
            limit = int(raw)
        except ValueError:
            limit = 0
        if not 1 <= limit <= MAX_LIMIT:
            raise ValidationError(
                {
                    "limit": [
                        _("limit must be a whole number from 1 to %(max)d.") % {"max": MAX_LIMIT}
                    ]
                }
            )
        return limit
