import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imrtrial.settings")
application = get_wsgi_application()

# Imports and loads once, here, what the worker's first request would otherwise wait for.
from imrtrial.warmup import warm_up  # noqa: E402

warm_up()
