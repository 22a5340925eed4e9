# One image for web, Celery worker and Celery beat (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=loyalty.settings.production

# The CJK font the share posters are drawn with (growth/poster_art.py, POSTER_FONT_PATH).
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-noto-cjk \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 app
WORKDIR /app

COPY pyproject.toml README.md ./
COPY loyalty ./loyalty
COPY members ./members
COPY membership ./membership
COPY points ./points
COPY stored_value ./stored_value
COPY coupons ./coupons
COPY mall ./mall
COPY notifications ./notifications
COPY payments ./payments
COPY orders ./orders
COPY analytics ./analytics
COPY stores ./stores
COPY counter ./counter
COPY growth ./growth
COPY migration ./migration
COPY templates ./templates
COPY static ./static
COPY locale ./locale
COPY manage.py gunicorn.conf.py ./
# Editable, so BASE_DIR (templates, static, locale) is /app, not site-packages.
RUN pip install -e .

# collectstatic needs settings to load, not real services.
RUN SECRET_KEY=build-only DATABASE_URL=postgres://build@localhost/build REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput --verbosity 0

# The media volume (docker-compose.yml: uploaded imports, member export files) is shared by the web
# nodes and the workers; made here, owned by app, so a fresh named volume is writable by app too.
RUN mkdir -p /app/media && chown app:app /app/media

USER app
EXPOSE 8000
# Workers and their class: gunicorn.conf.py (read from the working directory).
CMD ["gunicorn", "loyalty.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-"]
