# One-command entry points. `make demo` brings the product up with demo data on
# SQLite with Celery eager; `make test` runs the whole test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test install lint format run-worker run-beat bench-billing bench-portal bench-ingest clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The demo's emails (invoices with their PDF, alerts) are written to tmp/emails/.
demo: export DJANGO_EMAIL_BACKEND ?= django.core.mail.backends.filebased.EmailBackend
demo: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_seed
	@echo ""
	@echo "  Portal (company users):      http://127.0.0.1:8000/"
	@echo "  Admin (Customer Success):    http://127.0.0.1:8000/admin/"
	@echo "  API schema / endpoints:      http://127.0.0.1:8000/api/schema/docs/"
	@echo "  Password for every demo login: demo-pass-2026"
	@echo "  Emails sent (invoices with their PDF): tmp/emails/"
	@echo ""
	$(BIN)/python manage.py runserver 127.0.0.1:8000

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

run-worker: $(STAMP)
	$(BIN)/celery -A config worker --loglevel=INFO

run-beat: $(STAMP)
	$(BIN)/celery -A config beat --loglevel=INFO

# Benchmarks (PostgreSQL; each recreates the database wa_billing_bench).
BENCH_DB ?= postgres://postgres@127.0.0.1:5432/postgres
bench-billing: $(STAMP)
	DATABASE_URL=$(BENCH_DB) $(BIN)/python bench/billing.py $(BENCH_ARGS)

bench-portal: $(STAMP)
	DATABASE_URL=$(BENCH_DB) $(BIN)/python bench/portal.py $(BENCH_ARGS)

# Webhook ingestion beside a one-INSERT view (recreates wa_bench_ingest; needs Redis).
BENCH_REDIS ?= redis://127.0.0.1:6379/9
bench-ingest: $(STAMP)
	DATABASE_URL=$(BENCH_DB) REDIS_URL=$(BENCH_REDIS) $(BIN)/python bench/ingest.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
