from django.contrib.admin.apps import AdminConfig


class FluenzrAdminConfig(AdminConfig):
    """Django's admin, on the site that scopes staff views to every workspace."""

    default_site = "fluenzr.admin.FluenzrAdminSite"
