from django.apps import AppConfig


class EmailAccountsConfig(AppConfig):
    name = "email_accounts"
    verbose_name = "Email accounts"
