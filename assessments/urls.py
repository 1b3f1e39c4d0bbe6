from django.urls import path

from assessments import views
from assessments.api import instruments, queries, responses

app_name = "assessments"

FORM = "participants/<int:pk>/assessments/<str:timepoint>/<str:instrument>/"

# Pages of this app.
urlpatterns = [
    path("worklist/", views.worklist, name="worklist"),
    path("participants/<int:pk>/", views.participant_forms, name="participant"),
    path("participants/<int:pk>/<str:timepoint>/<str:code>/", views.form, name="form"),
    path(
        "participants/<int:pk>/<str:timepoint>/<str:code>/verify/",
        views.verify,
        name="verify",
    ),
    path(
        "participants/<int:pk>/<str:timepoint>/<str:code>/verify-fields/",
        views.verify_fields,
        name="verify_fields",
    ),
    path("verification/", views.sdv_worklist, name="sdv"),
    path(
        "participants/<int:pk>/<str:timepoint>/<str:code>/query/",
        views.raise_query,
        name="raise_query",
    ),
    path(
        "participants/<int:pk>/<str:timepoint>/<str:code>/autosave/",
        views.autosave,
        name="autosave",
    ),
    path("psp-interval/", views.psp_interval, name="psp_interval"),
    path("queries/", views.query_list, name="queries"),
    path("queries/<int:query_id>/", views.query_detail, name="query"),
    path("register/", views.register_import, name="register_import"),
]

# Endpoints of this app under /api/v1/.
api_urlpatterns = [
    path("instruments/", instruments.InstrumentListView.as_view(), name="api-instruments"),
    path(
        "instruments/<str:code>/",
        instruments.InstrumentDetailView.as_view(),
        name="api-instrument",
    ),
    path(
        "participants/<int:pk>/assessments/",
        responses.ParticipantFormsView.as_view(),
        name="api-participant-assessments",
    ),
    path(FORM, responses.ResponseView.as_view(), name="api-assessment"),
    path(FORM + "verify/", responses.VerifyView.as_view(), name="api-assessment-verify"),
    path(FORM + "history/", responses.HistoryView.as_view(), name="api-assessment-history"),
    path(FORM + "queries/", queries.RaiseQueryView.as_view(), name="api-assessment-queries"),
    path("queries/", queries.QueryListView.as_view(), name="api-queries"),
    path("queries/<int:query_id>/", queries.QueryDetailView.as_view(), name="api-query"),
    path(
        "queries/<int:query_id>/answer/", queries.QueryAnswerView.as_view(), name="api-query-answer"
    ),
    path("queries/<int:query_id>/close/", queries.QueryCloseView.as_view(), name="api-query-close"),
    path(
        "queries/<int:query_id>/reopen/", queries.QueryReopenView.as_view(), name="api-query-reopen"
    ),
    path("worklist/", queries.WorklistView.as_view(), name="api-worklist"),
    path("register-imports/", queries.RegisterImportView.as_view(), name="api-register-imports"),
]
