# One image for every Gradyard service in docker-compose.yml (migrate, api, worker, flower):
# they differ only in the command they run.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

WORKDIR /app
# The dependencies first, against empty packages (and README), so that a change to the code
# rebuilds only the last layer. Editable, because `gradyard db upgrade` finds alembic.ini and
# migrations/ beside the packages.
COPY pyproject.toml ./
RUN mkdir engine store service worker client \
    && touch README.md engine/__init__.py store/__init__.py service/__init__.py \
       worker/__init__.py client/__init__.py \
    && pip install -e ".[server,ops]" \
    && useradd --create-home --uid 10001 gradyard
COPY . .

USER gradyard
EXPOSE 8000 5555
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "service.wsgi:create_wsgi_app()"]
