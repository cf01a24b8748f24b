"""Create (or reuse) a user and a workspace, and print a new API key as the last line."""

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts import services
from accounts.errors import ServiceError
from accounts.models import Role, User
from accounts.plans import PlanCode
from accounts.selectors import memberships_of_user


class Command(BaseCommand):
    help = "Create or reuse a user and workspace (owner), set its plan, and print a new API key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument("--workspace", required=True, help="workspace name")
        parser.add_argument(
            "--plan", choices=PlanCode.values, help="set the plan (a new workspace starts on free)"
        )
        parser.add_argument("--key-name", default="bootstrap")

    @transaction.atomic
    def handle(self, *args: object, **options: str) -> None:
        email = options["email"].strip().lower()
        user = User.objects.filter(email__iexact=email).first()
        if user is None:
            user = User.objects.create_user(email=email, password=options["password"])
            self.stdout.write(f"Created user {email}")
        else:
            self.stdout.write(f"Reusing user {email}")
        membership = (
            memberships_of_user(user=user)
            .filter(workspace__name=options["workspace"], role=Role.OWNER)
            .first()
        )
        try:
            if membership is None:
                workspace = services.workspace_create(owner=user, name=options["workspace"])
                self.stdout.write(f"Created workspace {workspace.name} ({workspace.pk})")
            else:
                workspace = membership.workspace
                self.stdout.write(f"Reusing workspace {workspace.name} ({workspace.pk})")
            if options["plan"]:
                services.workspace_set_plan(workspace=workspace, plan=options["plan"])
            _api_key, token = services.api_key_create(
                workspace=workspace, created_by=user, name=options["key_name"]
            )
        except ServiceError as error:
            raise CommandError(error.message) from error
        self.stdout.write(f"Plan: {workspace.plan}")
        self.stdout.write(token)
