"""The language a request is answered in, and the member of staff's own choice of it.

Pages speak the language chosen on the account page (AccountPreference); before login, or
for an account that never chose, the language picked with the login page's switch (Django's
language cookie), else the deployment's DEFAULT_LANGUAGE (settings.LANGUAGE_CODE). The API
answers in the language of the request's Accept-Language header, since a script states what
it wants in every request; without the header, as the pages would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext_lazy as _
from django.utils.translation import trans_real

from accounts.models import AccountPreference, Language
from trial.audit import audit_context
from trial.errors import Invalid

# The account's language, remembered in the session so that a page costs no extra query.
SESSION_KEY = "_account_language"


def supported(code: str | None) -> str | None:
    """The interface language for a code such as "da" or "en-GB", or None."""
    if not code:
        return None
    try:
        return translation.get_supported_language_variant(code)
    except LookupError:
        return None


def account_language(user: Any) -> str | None:
    """The language the account chose on its account page, or None if it never chose."""
    return AccountPreference.objects.filter(user=user).values_list("language", flat=True).first()


def language_set(*, request: HttpRequest, user: Any, language: str) -> None:
    """Keep the account's language (audited) and answer this session in it from now on."""
    if language not in Language.values:
        raise Invalid(
            str(_("Choose one of the languages offered.")),
            fields={"language": [str(_("Choose one of the languages offered."))]},
        )
    reason = "language chosen on the account page"
    with transaction.atomic(), audit_context(user=user, reason=reason):
        AccountPreference.objects.update_or_create(user=user, defaults={"language": language})
    remember(request, language)


def remember(request: HttpRequest, language: str) -> None:
    request.session[SESSION_KEY] = language
    translation.activate(language)
    request.LANGUAGE_CODE = language


@receiver(user_logged_in)
def remember_at_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """The account's language is read once, at login, into the new session: every page after
    it, the first one too, costs the same queries."""
    session = getattr(request, "session", None)
    if session is not None:
        session[SESSION_KEY] = account_language(user) or ""


def _from_accept_language(request: HttpRequest) -> str | None:
    header = request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    for code, _quality in trans_real.parse_accept_lang_header(header):
        if code == "*":
            break
        found = supported(code)
        if found:
            return found
    return None


def _cookie(request: HttpRequest) -> str | None:
    return supported(request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME))


def _for_pages(request: HttpRequest) -> str:
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        remembered = request.session.get(SESSION_KEY)
        if remembered is None:
            remembered = account_language(user) or ""
            request.session[SESSION_KEY] = remembered
        if supported(remembered):
            return remembered
    return _cookie(request) or settings.LANGUAGE_CODE


def language_for(request: HttpRequest) -> str:
    if request.path_info.startswith("/api/"):
        return _from_accept_language(request) or _for_pages(request)
    return _for_pages(request)


class LanguageMiddleware:
    """Activates the request's language (module docstring) for everything the request does:
    pages, messages, form and API errors. Stands after the authentication middleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = language_for(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        patch_vary_headers(response, ("Accept-Language", "Cookie"))
        response.headers.setdefault("Content-Language", translation.get_language() or language)
        return response
