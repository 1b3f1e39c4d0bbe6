# The IMR trial EDC for production (docker-compose.yml runs it under gunicorn, with Celery).
# Configuration and secrets come from the environment at run time, never from the image.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# Printed CRFs (WeasyPrint) need Pango and the DejaVu fonts.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

RUN pip install --no-cache-dir uv==0.13.9 \
    && groupadd --system edc && useradd --system --gid edc --home-dir /app edc

WORKDIR /app
# The locked dependencies first, so that code changes do not reinstall them.
COPY pyproject.toml uv.lock ./
# Compiled here, once: with PYTHONDONTWRITEBYTECODE every gunicorn and Celery process would
# otherwise compile every module it imports from source at start.
RUN uv sync --frozen --no-dev --no-install-project --compile-bytecode

COPY --chown=edc:edc . .
# collectstatic needs settings that load; these values exist only during this build step.
RUN SECRET_KEY=build-only CPR_KEYS=MDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA= DEBUG=false \
    ALLOWED_HOSTS=localhost python manage.py collectstatic --no-input \
    && python -m compileall -q -x '/(tests|bench|docs)/' /app \
    && mkdir -p /var/lib/imrtrial/exports /var/lib/celery \
    && chown -R edc:edc /var/lib/imrtrial /var/lib/celery /app/staticfiles

USER edc
EXPOSE 8000
CMD ["gunicorn", "imrtrial.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--timeout", "60", "--access-logfile", "-", "--forwarded-allow-ips", "*"]
