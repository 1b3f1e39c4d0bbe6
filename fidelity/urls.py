from django.urls import path

from fidelity import views
from fidelity.api import views as api

app_name = "fidelity"

# Pages of this app (mounted under /imr/). Every one of them is for unblinded roles only:
# tests/fidelity/test_blinding.py walks this list, so a new page is covered automatically.
urlpatterns = [
    path("", views.group_list, name="groups"),
    path("groups/new/", views.group_create, name="group_new"),
    path("groups/<int:pk>/", views.group_detail, name="group"),
    path("groups/<int:pk>/edit/", views.group_edit, name="group_edit"),
    path("groups/<int:pk>/members/", views.member_add, name="member_add"),
    path(
        "groups/<int:pk>/members/<int:participant_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path("groups/<int:pk>/sessions/", views.session_add, name="session_add"),
    path("groups/<int:pk>/schedule/", views.schedule_generate, name="schedule"),
    path("sessions/<int:pk>/", views.session_attendance, name="session"),
    path("sessions/<int:pk>/edit/", views.session_edit, name="session_edit"),
    path("sessions/<int:pk>/cancel/", views.session_cancel, name="session_cancel"),
    path("exposure/", views.exposure_overview, name="exposure"),
    path("fidelity/", views.rating_overview, name="ratings"),
    path("fidelity/<int:pk>/<str:timepoint>/", views.rating_form, name="rating"),
]

# Endpoints of this app under /api/v1/ (API.md, "Fidelity and attendance").
api_urlpatterns = [
    path("groups/", api.GroupListView.as_view(), name="api-imr-groups"),
    path("groups/<int:pk>/", api.GroupDetailView.as_view(), name="api-imr-group"),
    path("groups/<int:pk>/members/", api.MemberListView.as_view(), name="api-imr-members"),
    path(
        "groups/<int:pk>/members/<int:participant_id>/",
        api.MemberDetailView.as_view(),
        name="api-imr-member",
    ),
    path("groups/<int:pk>/sessions/", api.GroupSessionListView.as_view(), name="api-imr-sessions"),
    path("groups/<int:pk>/schedule/", api.ScheduleView.as_view(), name="api-imr-schedule"),
    path(
        "groups/<int:pk>/exposure/", api.GroupExposureView.as_view(), name="api-imr-group-exposure"
    ),
    path(
        "groups/<int:pk>/fidelity/", api.GroupFidelityView.as_view(), name="api-imr-group-fidelity"
    ),
    path("sessions/<int:pk>/", api.SessionDetailView.as_view(), name="api-imr-session"),
    path("sessions/<int:pk>/cancel/", api.SessionCancelView.as_view(), name="api-imr-cancel"),
    path("sessions/<int:pk>/attendance/", api.AttendanceView.as_view(), name="api-imr-attendance"),
    path("exposure/", api.ExposureView.as_view(), name="api-imr-exposure"),
    path("fidelity-ratings/", api.RatingListView.as_view(), name="api-fidelity-ratings"),
    path("fidelity-ratings/<int:pk>/", api.RatingDetailView.as_view(), name="api-fidelity-rating"),
    path("fidelity-summary/", api.FidelitySummaryView.as_view(), name="api-fidelity-summary"),
    path("imr-instructors/", api.InstructorListView.as_view(), name="api-imr-instructors"),
    path("imr-modules/", api.ModuleListView.as_view(), name="api-imr-modules"),
]
