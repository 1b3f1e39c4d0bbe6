from django.contrib.admin.apps import AdminConfig


class TrialAdminConfig(AdminConfig):
    """django.contrib.admin with accounts.admin_site.TrialAdminSite as `admin.site`
    (INSTALLED_APPS names this class instead of "django.contrib.admin")."""

    default_site = "accounts.admin_site.TrialAdminSite"
