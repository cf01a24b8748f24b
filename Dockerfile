# FluenzR production image: one image for web (gunicorn), worker and beat.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    VAR_DIR=/app/var

RUN apt-get update \
    && apt-get install -y --no-install-recommends gettext \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install --upgrade pip && pip install .
COPY . .
RUN pip install --no-deps -e . \
    && DEBUG=1 python manage.py compilemessages --ignore=.venv \
    && DEBUG=0 SECRET_KEY=collectstatic-only FIELD_ENCRYPTION_KEYS=unused-at-build \
       python manage.py collectstatic --noinput \
    && useradd --system --home /app fluenzr && chown -R fluenzr /app/var

USER fluenzr
EXPOSE 8000
CMD ["gunicorn", "fluenzr.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
