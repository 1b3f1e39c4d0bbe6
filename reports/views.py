"""Pages of the reports: the role home pages (`/`), the overview, the CONSORT flow and the
picture downloads. Thin: the figures come from reports.selectors and reports.pictures."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from assessments.models import Timepoint
from participants.models import Status
from reports import cache, documents, permissions, pictures
from reports.charts import render as chart_render
from reports.selectors import completeness, consort, home, matrix, tables
from reports.selectors.scope import parse_timepoint, scope_for
from trial import access
from trial.errors import NotFound
from trial.models import Site
from trial.roles import Role


def _section(request: HttpRequest, role: str) -> dict[str, Any]:
    """The figures of one role's section of the home page."""
    user = request.user
    if role == Role.COORDINATOR:
        scope = scope_for(user, roles=(Role.COORDINATOR,), holder=request)
        screening = home.waiting(scope, "registered")
        consent = home.waiting(scope, "eligible")
        ready = home.waiting(scope, "consented")
        return {
            "recruitment": pictures.page_picture(user, "recruitment", holder=request),
            "funnel": pictures.page_picture(user, "funnel", holder=request),
            "projection": home.projection(scope, site_count=Site.objects.count()),
            "reasons": cache.remember("consort", scope, lambda: consort.consort(scope))["excluded"][
                "reasons"
            ],
            "screening_waiting": screening,
            "consent_waiting": consent,
            "ready": ready,
            "sessions": home.sessions_this_week(user, scope),
            "shows_sessions": access.may_see_allocation(user),
        }
    if role in (Role.ASSESSOR, Role.CLINICIAN):
        # The worklist is the user's own (the forms they enter): cached for this user only.
        scope = scope_for(user, roles=(Role.ASSESSOR, Role.CLINICIAN), holder=request)
        return {"due": cache.remember(f"forms-due:{user.pk}", scope, lambda: home.forms_due(user))}
    if role == Role.DATA_MANAGER:
        scope = scope_for(user, roles=(Role.DATA_MANAGER,), holder=request)
        rows = cache.remember(
            "completeness:",
            scope,
            lambda: [row.as_dict() for row in completeness.completeness(scope)],
        )
        return {
            "completeness": home.completeness_summary(rows),
            "queries": home.queries_by_age(user, scope),
            "age_bands": [str(label) for label, _low, _high in home.AGE_BANDS],
            "retention": pictures.page_picture(user, "retention", holder=request),
        }
    if role == Role.MONITOR:
        scope = scope_for(user, roles=(Role.MONITOR,), holder=request)
        oldest, per_site = cache.remember(
            "verification", scope, lambda: home.awaiting_verification(user, scope)
        )
        return {"oldest": oldest, "per_site": per_site}
    if role == Role.STATISTICIAN:
        return {
            "capacity": home.list_capacity(user),
            "lock": home.lock_state(),
            "exports": home.recent_exports(user),
        }
    if role == Role.INVESTIGATOR:
        # The principal investigator's view of their sites: recruitment against the target,
        # the flow so far and retention, pooled (per-arm figures only on the CONSORT page
        # after lock). A picture another section of the page already shows is not repeated.
        scope = scope_for(user, roles=(Role.INVESTIGATOR,), holder=request)
        held = access.roles_of(user)
        flow = cache.remember("consort", scope, lambda: consort.consort(scope))
        return {
            "projection": home.projection(scope, site_count=Site.objects.count()),
            "flow": flow,
            "sites": scope.sites,
            "recruitment": None
            if Role.COORDINATOR in held
            else pictures.page_picture(user, "recruitment", holder=request),
            "retention": None
            if Role.DATA_MANAGER in held
            else pictures.page_picture(user, "retention", holder=request),
        }
    if role == Role.INSTRUCTOR:
        scope = scope_for(user, roles=(Role.INSTRUCTOR,), holder=request)
        return {
            "sessions": home.sessions_this_week(user, scope),
            "shows_sessions": access.may_see_allocation(user),
        }
    return {"shows_ratings": access.may_see_allocation(user)}


@login_required
def home_page(request: HttpRequest) -> HttpResponse:
    sections = [
        {"role": role, "label": Role(role).label, **_section(request, role)}
        for role in home.sections_for(request.user)
    ]
    return render(
        request,
        "reports/home.html",
        {
            "roles": access.role_labels(access.roles_of(request.user)),
            "sections": sections,
            "may_read_reports": access.has_role(request.user, *permissions.READERS),
            "may_read_matrix": access.has_role(request.user, *permissions.MATRIX_READERS),
        },
    )


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    permissions.require_reader(request.user)
    scope = scope_for(request.user, holder=request)
    return render(
        request,
        "reports/overview.html",
        {
            "scope": scope,
            "recruitment": pictures.page_picture(request.user, "recruitment", holder=request),
            "may_read_matrix": access.has_role(request.user, *permissions.MATRIX_READERS),
            "may_read_tables": access.has_role(request.user, *permissions.TABLE_READERS),
        },
    )


@login_required
@require_GET
def consort_page(request: HttpRequest) -> HttpResponse:
    permissions.require_reader(request.user)
    scope = scope_for(request.user, holder=request)
    return render(
        request,
        "reports/consort.html",
        {"picture": pictures.page_picture(request.user, "consort", holder=request), "scope": scope},
    )


@login_required
@require_GET
def picture_download(request: HttpRequest, name: str, fmt: str) -> HttpResponse:
    if name not in pictures.PICTURES or fmt not in chart_render.FORMATS:
        raise NotFound(_("No such picture."))
    data = pictures.rendered(request.user, name, fmt, holder=request)
    response = HttpResponse(data, content_type=chart_render.CONTENT_TYPES[fmt])
    # The file name says what the picture is, never anything about an arm.
    response["Content-Disposition"] = f'attachment; filename="imr-{name}.{fmt}"'
    return response


@login_required
@require_GET
def status_matrix(request: HttpRequest) -> HttpResponse:
    permissions.require_reader(request.user, permissions.MATRIX_READERS)
    site = request.GET.get("site", "")
    status = matrix.parse_status(request.GET.get("status", ""))
    timepoint = parse_timepoint(request.GET.get("timepoint", ""), list(Timepoint.values))
    scope = scope_for(request.user, site=site, roles=permissions.MATRIX_READERS, holder=request)
    found = matrix.matrix(
        request.user, scope, status=status, timepoint=timepoint, page=request.GET.get("page", 1)
    )
    all_sites = scope_for(request.user, roles=permissions.MATRIX_READERS, holder=request).sites
    filters = {"site": site.upper(), "status": status, "timepoint": timepoint}
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return render(
        request,
        "reports/matrix.html",
        {
            "matrix": found,
            "sites": all_sites,
            "statuses": Status.choices,
            "timepoints": Timepoint.choices,
            "filters": filters,
            "query": query,
            "legend": [
                (state, matrix.SYMBOLS[state], label)
                for state, label in matrix.state_labels().items()
            ],
        },
    )


def _paper_table(request: HttpRequest, name: str) -> tables.PaperTable:
    user = request.user
    if name not in tables.TABLES:
        raise NotFound(_("No such table."))
    permissions.require_reader(user, permissions.TABLE_READERS)
    scope = scope_for(user, roles=permissions.TABLE_READERS, holder=request)
    masked = request.GET.get("groups", "") == "masked"
    # The baseline table is split by arm only for statisticians (Scope.arms says the rest).
    who = "statistician" if access.has_role(user, Role.STATISTICIAN) else "staff"
    key = f"table:{name}:{who}"
    if name == "baseline":
        return cache.remember(key, scope, lambda: tables.baseline(user, scope))
    if name == "outcomes":
        return tables.outcomes(user, scope, masked=masked)
    return tables.exposure(user, scope)


@login_required
@require_GET
def table_list(request: HttpRequest) -> HttpResponse:
    permissions.require_reader(request.user, permissions.TABLE_READERS)
    available = [
        (name, title) for name, title in tables.table_titles().items()
        if tables.may_read_table(request.user, name)
    ]  # fmt: skip
    return render(request, "reports/tables.html", {"available": available})


@login_required
@require_GET
def table_page(request: HttpRequest, name: str) -> HttpResponse:
    table = _paper_table(request, name)
    groups = request.GET.get("groups", "")
    return render(
        request,
        "reports/table.html",
        {"table": table, "suffix": "?groups=masked" if groups == "masked" else ""},
    )


@login_required
@require_GET
def table_download(request: HttpRequest, name: str, fmt: str) -> HttpResponse:
    if fmt not in documents.WRITERS:
        raise NotFound(_("No such format."))
    table = _paper_table(request, name)
    response = HttpResponse(
        documents.WRITERS[fmt](table), content_type=documents.CONTENT_TYPES[fmt]
    )
    response["Content-Disposition"] = f'attachment; filename="imr-table-{name}.{fmt}"'
    return response
