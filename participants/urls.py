from django.urls import path

from participants import api, views

app_name = "participants"

urlpatterns = [
    path("", views.participant_list, name="list"),
    path("new/", views.participant_register, name="register"),
    path("<int:pk>/", views.participant_overview, name="overview"),
    path("<int:pk>/screening/", views.participant_screening, name="screening"),
    path("<int:pk>/consent/", views.participant_consent, name="consent"),
    path("<int:pk>/status/", views.participant_status, name="status"),
    path("<int:pk>/audit/", views.participant_audit, name="audit"),
]

api_urlpatterns = [
    path("sites/", api.SiteListView.as_view(), name="api-sites"),
    path(
        "eligibility-criteria/",
        api.EligibilityCriteriaView.as_view(),
        name="api-eligibility-criteria",
    ),
    path("participants/", api.ParticipantListView.as_view(), name="api-participants"),
    path("participants/<int:pk>/", api.ParticipantDetailView.as_view(), name="api-participant"),
    path(
        "participants/<int:pk>/eligibility/", api.EligibilityView.as_view(), name="api-eligibility"
    ),
    path("participants/<int:pk>/consent/", api.ConsentView.as_view(), name="api-consent"),
    path("participants/<int:pk>/withdraw/", api.WithdrawView.as_view(), name="api-withdraw"),
    path("participants/<int:pk>/status/", api.StatusChangeView.as_view(), name="api-status"),
    path("participants/<int:pk>/audit/", api.AuditTrailView.as_view(), name="api-audit"),
]
