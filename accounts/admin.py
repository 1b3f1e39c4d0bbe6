"""What the administrator manages: staff accounts with their roles and sites, the sites'
names, and (read-only) the security log and API tokens. Every change needs a reason and is
audited with the acting administrator (pghistory; AuthEvent for security actions).

Trial data is deliberately absent: the admin role is not a trial-data role. Apps must not
register participants, forms, allocations or any other trial data here (a test checks)."""

from __future__ import annotations

from typing import Any

import pghistory
from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import (
    AdminPasswordChangeForm,
    SetUnusablePasswordMixin,
    UserChangeForm,
    UserCreationForm,
    UsernameField,
)
from django.contrib.auth.models import Group
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.text import format_lazy
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import lockout, tokens, twofactor
from accounts.authlog import record
from accounts.models import ApiToken, AuthEvent, PasswordChangeDemand, StaffAccount
from trial import access
from trial.audit import event_model
from trial.audit_trail import AuditSource, trail
from trial.models import RoleAssignment, Site
from trial.roles import SITE_SCOPED_ROLES, Role

User = get_user_model()

REASON_HELP = _("Why you make this change. It is kept in the audit trail with your name.")


def _reason_field(required: bool = True) -> forms.CharField:
    return forms.CharField(
        label=_("Reason for this change"),
        required=required,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=REASON_HELP,
    )


class ReasonAuditMixin:
    """Puts the form's reason (and the acting administrator, already there from the request
    middleware) on every audit event the save writes, inline rows included."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        reason = form.cleaned_data.get("change_reason") or ("Created" if not change else "")
        pghistory.context(reason=reason, username=request.user.get_username())
        super().save_model(request, obj, form, change)  # type: ignore[misc]


class RoleAssignmentForm(forms.ModelForm):
    class Meta:
        model = RoleAssignment
        fields = ["role", "site"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        role, site = data.get("role"), data.get("site")
        if role and site and role not in SITE_SCOPED_ROLES:
            self.add_error(
                "site",
                _("A {Role} works at every site: leave it empty.").format(
                    Role=Role(role).label.lower(),
                ),
            )
        return data


class RoleAssignmentInline(admin.TabularInline):
    model = RoleAssignment
    form = RoleAssignmentForm
    extra = 1
    fields = ["role", "site", "granted_at"]
    readonly_fields = ["granted_at"]
    verbose_name = _("role")
    verbose_name_plural = _("Roles (site empty = every site)")


class StaffChangeForm(UserChangeForm):
    change_reason = _reason_field()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Confirmation e-mails (randomisation) and password resets need an address.
        self.fields["email"].required = True

    class Meta:
        model = User
        fields = ["username", "first_name", "last_name", "email", "is_active"]
        field_classes = {"username": UsernameField}


class StaffCreationForm(UserCreationForm):
    change_reason = _reason_field(required=False)

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Asked on the first page: confirmation e-mails (randomisation) need an address.
        self.fields["email"].required = True
        self.fields["email"].help_text = _(
            "The person's work address: confirmation e-mails go there."
        )
        self.fields["password1"].help_text = _(
            "The person must change it at the first login: you know this one."
        )


class StaffPasswordChangeForm(AdminPasswordChangeForm):
    """Django builds the help text of `usable_password` (for a user who has a password) by
    adding a plain string to a lazy one in the class body, which fixes it at import in the
    language active then (the deployment's default): an English page showed it in Danish.
    Built per form here, in the reader's language, its warning translated too."""

    def __init__(self, user: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        if "usable_password" in self.fields and user.has_usable_password():
            self.fields["usable_password"].help_text = format_lazy(
                '{}<ul id="id_unusable_warning" class="messagelist"><li class="warning">{}'
                "</li></ul>",
                SetUnusablePasswordMixin.usable_password_help_text,
                _("If disabled, the current password for this user will be lost."),
            )


@admin.action(description=_("Remove the two-factor device (the user enrols a new one)"))
def reset_two_factor(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    for user in queryset:
        twofactor.devices_reset(user=user, request=request)
    count = queryset.count()
    messages.success(
        request,
        ngettext(
            "Two-factor device removed for {count} account.",
            "Two-factor devices removed for {count} accounts.",
            count,
        ).format(count=count),
    )


@admin.action(description=_("Lift a lockout after failed logins"))
def unlock(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    for user in queryset:
        lockout.failures_reset(user.get_username())
        record(
            AuthEvent.Kind.UNLOCKED,
            username=user.get_username(),
            request=request,
            user=user,
            detail=f"by {request.user.get_username()}",
        )
    count = queryset.count()
    messages.success(
        request,
        ngettext("Unlocked {count} account.", "Unlocked {count} accounts.", count).format(
            count=count
        ),
    )


@admin.action(description=_("Revoke every API token"))
def revoke_tokens(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    for user in queryset:
        count = tokens.tokens_revoke_all(user=user)
        record(
            AuthEvent.Kind.TOKEN_REVOKED,
            username=user.get_username(),
            request=request,
            user=user,
            detail=f"{count} token(s) revoked by {request.user.get_username()}",
        )
    total = queryset.count()
    messages.success(
        request,
        ngettext(
            "API tokens revoked for {count} account.",
            "API tokens revoked for {count} accounts.",
            total,
        ).format(count=total),
    )


admin.site.unregister(Group)
if admin.site.is_registered(TOTPDevice):
    # The device admin would show secrets to administrators and let them create devices for
    # someone else; the only device action an administrator needs is the reset above.
    admin.site.unregister(TOTPDevice)
if admin.site.is_registered(User):
    admin.site.unregister(User)


@admin.register(User)
class StaffAdmin(ReasonAuditMixin, UserAdmin):
    form = StaffChangeForm
    add_form = StaffCreationForm
    change_password_form = StaffPasswordChangeForm
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        (_("Person"), {"fields": ("first_name", "last_name", "email")}),
        (_("Access"), {"fields": ("is_active",)}),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
        (_("Reason"), {"fields": ("change_reason",)}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "password1", "password2", "change_reason"),
            },
        ),
    )
    readonly_fields = ["last_login", "date_joined"]
    list_display = ["username", "full_name", "is_active", "roles", "two_factor", "last_login"]
    list_filter = ["is_active", "role_assignments__role"]
    search_fields = ["username", "first_name", "last_name", "email"]
    ordering = ["username"]
    filter_horizontal = ()
    inlines = [RoleAssignmentInline]
    actions = [reset_two_factor, unlock, revoke_tokens]

    @admin.display(description=_("Name"))
    def full_name(self, obj: Any) -> str:
        return obj.get_full_name()

    @admin.display(description=_("Roles"))
    def roles(self, obj: Any) -> str:
        parts = []
        for assignment in obj.role_assignments.all():
            where = assignment.site.code if assignment.site else gettext("all")
            parts.append(f"{assignment.get_role_display()} ({where})")
        return ", ".join(parts) or "—"

    @admin.display(description=_("Two-factor"), boolean=True)
    def two_factor(self, obj: Any) -> bool:
        return twofactor.has_confirmed_device(obj)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("role_assignments__site")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Accounts are deactivated, never deleted: their names stay on what they did.
        return False

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        user = form.instance
        # Admin-site access follows the admin role; nothing else grants it.
        is_admin = user.role_assignments.filter(role=Role.ADMIN).exists()
        if (user.is_staff, user.is_superuser) != (is_admin, is_admin):
            user.is_staff = user.is_superuser = is_admin
            user.save(update_fields=["is_staff", "is_superuser"])
        access.forget_grants(user)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            # The administrator typed the password: the person chooses their own at login.
            PasswordChangeDemand.objects.update_or_create(
                user=obj, defaults={"set_by": access.signed_in(request.user)}
            )

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302:
            user = User.objects.get(pk=id)
            if user.pk != request.user.pk:
                PasswordChangeDemand.objects.update_or_create(
                    user=user, defaults={"set_by": access.signed_in(request.user)}
                )
            count = tokens.tokens_revoke_all(user=user)
            record(
                AuthEvent.Kind.PASSWORD_CHANGED,
                username=user.get_username(),
                request=request,
                user=user,
                detail=f"set by {request.user.get_username()}; {count} API token(s) revoked",
            )
        return response

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: Any = None
    ) -> HttpResponse:
        """The account's audit trail: account changes and role changes (pghistory, with who
        and why) and its security events."""
        user = self.get_object(request, object_id)
        if user is None or not self.has_view_or_change_permission(request, user):
            # A private ModelAdmin helper (its "does not exist" answer), absent from the stubs.
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        role_event = event_model(RoleAssignment)
        sources = [
            (
                AuditSource(event_model(StaffAccount), "pgh_obj_id", gettext("Account"), True),
                Q(pgh_obj_id=user.pk),
            ),
            (
                AuditSource(
                    role_event,
                    "user_id",
                    gettext("Role"),
                    True,
                    hidden_fields=frozenset({"user", "granted_at"}),
                    describe=lambda e: gettext("Role {role}").format(role=e.get_role_display()),
                ),
                Q(user_id=user.pk),
            ),
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": gettext("Audit trail of {username}").format(username=user.get_username()),
            "subject": user,
            "opts": self.opts,
            "entries": trail(sources),
            "auth_events": AuthEvent.objects.filter(Q(user=user) | Q(username=user.get_username()))[
                :200
            ],
        }
        return TemplateResponse(request, "admin/auth/user/audit_trail.html", context)


class SiteForm(forms.ModelForm):
    change_reason = _reason_field()

    class Meta:
        model = Site
        fields = ["name"]


@admin.register(Site)
class SiteAdmin(ReasonAuditMixin, admin.ModelAdmin):
    """Sites come from setup_trial. Their codes and numbers are in every study ID and dataset,
    so only the display name can change here."""

    form = SiteForm
    list_display = ["code", "name", "number"]
    fields = ["code", "number", "name", "change_reason"]
    readonly_fields = ["code", "number"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.display(description=_("Status"))
def _axes_status(modeladmin: Any, obj: Any) -> str:
    # axes' own column has no translatable heading (its method's name is shown).
    return str(AccessAttemptAdmin.status(modeladmin, obj))


@admin.display(description=_("Expires"))
def _axes_expiration(modeladmin: Any, obj: Any) -> Any:
    return AccessAttemptAdmin.expiration(modeladmin, obj)


_AXES_COLUMNS = {"status": _axes_status, "expiration": _axes_expiration}


# django-axes' lists of login attempts stay visible but cannot be edited or deleted here:
# deleting an attempt would lift a lockout without the audited "Lift a lockout" action above
# (an UNLOCKED security event), and deleting the logs would remove evidence of logins.
for _model, _base in (
    (AccessAttempt, AccessAttemptAdmin),
    (AccessLog, AccessLogAdmin),
    (AccessFailureLog, AccessFailureLogAdmin),
):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
        admin.site.register(
            _model,
            type(
                f"ReadOnly{_base.__name__}",
                (ReadOnlyAdmin, _base),
                dict(_AXES_COLUMNS) if _model is AccessAttempt else {},
            ),
        )


@admin.register(AuthEvent)
class AuthEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "kind", "username", "channel", "ip_address", "detail"]
    list_filter = ["kind", "channel"]
    search_fields = ["username", "ip_address", "detail"]
    date_hierarchy = "at"


@admin.action(description=_("Revoke the selected tokens"))
def revoke_selected(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> None:
    for token in queryset.filter(revoked_at__isnull=True).select_related("user"):
        tokens.token_revoke(token=token)
        record(
            AuthEvent.Kind.TOKEN_REVOKED,
            username=token.user.get_username(),
            request=request,
            user=token.user,
            detail=f"token {token.prefix}… revoked by {request.user.get_username()}",
        )


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin):
    list_display = ["prefix", "user", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["user__username", "prefix"]
    fields = ["prefix", "user", "created_at", "last_used_at", "expires_at", "revoked_at"]
    actions = [revoke_selected]
