from django.urls import path

from casebooks import api, views

app_name = "casebooks"

# Pages and downloads of this app (under /casebooks/).
urlpatterns = [
    path("blank/<str:code>.pdf", views.blank_form, name="blank"),
    path("participants/<int:pk>/casebook.pdf", views.casebook, name="casebook"),
    path("participants/<int:pk>/<str:timepoint>.pdf", views.participant_visit, name="visit_pdf"),
    path(
        "participants/<int:pk>/<str:timepoint>/<str:code>.pdf",
        views.participant_form,
        name="form_pdf",
    ),
    path("participants/<int:pk>/<str:timepoint>/sign/", views.sign_visit, name="sign"),
    path("signing/", views.worklist, name="worklist"),
    path("broken-signatures/", views.broken, name="broken"),
]

# Endpoints of this app under /api/v1/.
api_urlpatterns = [
    path(
        "participants/<int:pk>/signatures/",
        api.ParticipantSignaturesView.as_view(),
        name="api-participant-signatures",
    ),
]
