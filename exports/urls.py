app_name = "exports"

# Pages of this app.
urlpatterns: list = []

# Endpoints of this app under /api/v1/.
api_urlpatterns: list = []
