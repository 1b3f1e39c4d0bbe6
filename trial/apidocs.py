"""The browsable API documentation at /api/v1/docs/ (Swagger UI from drf-spectacular-sidecar:
served by this app, never from a CDN)."""

from __future__ import annotations

from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    """The split view delivers its start-up script as a separate file, so the page needs no
    inline script; our template moves the page's few style rules to a static file, so it
    needs no inline style either. The site-wide Content-Security-Policy applies unchanged."""

    template_name = "api_docs.html"
