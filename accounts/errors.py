"""Errors services raise. Each carries a message for the user, in their language."""

from accounts.plans import Plan


class ServiceError(Exception):
    """A request that cannot be carried out as asked; the message says what to do instead."""

    code = "invalid_request"
    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotAllowed(ServiceError):
    code = "permission_denied"
    status = 403


class NotFound(ServiceError):
    code = "not_found"
    status = 404


class PlanLimitError(ServiceError):
    code = "plan_limit"
    status = 403

    def __init__(self, message: str, *, required_plan: Plan | None) -> None:
        super().__init__(message)
        self.required_plan = required_plan


def form_error(form, error: ServiceError) -> None:
    """Show a service's refusal on the form field it names, or above the form."""
    form.add_error(error.field if error.field in form.fields else None, error.message)
