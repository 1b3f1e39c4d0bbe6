from django.urls import path

from reports import api

app_name = "reports"

# Pages of this app (under /reports/; the home page `/` is views.home, routed by imrtrial).
urlpatterns: list = []

# Endpoints of this app under /api/v1/.
api_urlpatterns = [
    path("reports/consort/", api.ConsortView.as_view(), name="api-reports-consort"),
    path("reports/recruitment/", api.RecruitmentView.as_view(), name="api-reports-recruitment"),
    path("reports/completeness/", api.CompletenessView.as_view(), name="api-reports-completeness"),
]
