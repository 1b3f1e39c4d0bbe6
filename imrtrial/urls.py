from django.contrib import admin
from django.templatetags.static import static
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView

from accounts import urls as accounts_urls
from assessments import urls as assessments_urls
from casebooks import urls as casebooks_urls
from exports import urls as exports_urls
from fidelity import urls as fidelity_urls
from participants import urls as participants_urls
from randomization import urls as randomization_urls
from reports import urls as reports_urls
from reports import views as report_views
from trial import views
from trial.apidocs import ApiDocsView

api_urlpatterns: list[URLPattern | URLResolver] = [
    path("", include(participants_urls.api_urlpatterns)),
    path("", include(randomization_urls.api_urlpatterns)),
    path("", include(assessments_urls.api_urlpatterns)),
    path("", include(casebooks_urls.api_urlpatterns)),
    path("", include(fidelity_urls.api_urlpatterns)),
    path("", include(exports_urls.api_urlpatterns)),
    path("", include(reports_urls.api_urlpatterns)),
    path("", include(accounts_urls.api_urlpatterns)),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", ApiDocsView.as_view(url_name="schema"), name="api-docs"),
]

urlpatterns = [
    # The role home pages (reports: the top app, which the core below may not import).
    path("", report_views.home_page, name="home"),
    # No login: the health of the database, Redis and the workers (docker-compose, proxies).
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for /favicon.ico on pages that name no icon (the admin's).
    path("favicon.ico", RedirectView.as_view(url=static("img/favicon.svg"), permanent=True)),
    path("accounts/", include(accounts_urls.urlpatterns)),
    path("participants/", include(participants_urls)),
    path("randomisation/", include(randomization_urls)),
    path("assessments/", include(assessments_urls)),
    path("casebooks/", include(casebooks_urls)),
    path("imr/", include(fidelity_urls)),
    path("data/", include(exports_urls)),
    path("reports/", include(reports_urls)),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_urlpatterns)),
]

handler404 = "trial.views.not_found"
handler500 = "trial.views.server_error"
