# The worker and the schema one-shot of docker-compose.yml: the project and its
# dependencies, nothing else. `python -m study_cards.schema apply` finds migrations/
# and sql/ next to the package, hence the editable install in /app.
FROM python:3.12-slim
WORKDIR /app
COPY pyproject.toml README.md worker.py yoyo.ini ./
COPY study_cards ./study_cards
COPY migrations ./migrations
COPY sql ./sql
RUN pip install --no-cache-dir --disable-pip-version-check --editable . \
    && useradd --system --no-create-home study-cards
USER study-cards
ENV PYTHONUNBUFFERED=1
CMD ["python", "worker.py"]
