# Caseflow: `make up` runs the whole suite on its embedded default, `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
SERVICES := intake cases routing sla scheduling knowledge

.PHONY: help install up test test-unit lint fmt bench bench-reports bench-contracts bench-screenpop bench-mail bench-routing bench-sla-timers bench-knowledge asyncapi schemas clean

help:
	@echo "make up        run every service on embedded PostgreSQL and Tansu (Ctrl-C stops)"
	@echo "make test      run every test (unit, service, end-to-end)"
	@echo "make lint      ruff, mypy --strict, import-linter"
	@echo "make bench     the end-to-end benchmark (bench/e2e.py)"
	@echo "make bench-reports  the case reports over 100,000 cases (bench/reports.py)"
	@echo "make bench-contracts  the contract report over 2,000 contracts (bench/contracts.py)"
	@echo "make bench-screenpop  a ringing call to the agent's screen-pop, webhook and topic (bench/screenpop.py)"
	@echo "make bench-mail  10 KB mail through intake's SMTP listener to interaction.received, beside a bare aiosmtpd sink (bench/mail.py)"
	@echo "make bench-routing  10,000 routing decisions, rule match to committed assignment, on PostgreSQL, beside the domain alone (bench/routing.py)"
	@echo "make bench-sla-timers  the SLA timer over 1,000,000 pending KPIs: rate and lag of 20,000 due within 2 s on one and two replicas, lag of 20,000 due over 20 s (bench/sla_timers.py)"
	@echo "make bench-knowledge  knowledge search: nDCG@10 and Recall@10 of plain, boosted and semantic ranking on SciFact, p50/p95/p99 over 100,000 articles in five languages (bench/knowledge.py)"
	@echo "make asyncapi  regenerate the committed AsyncAPI documents"

# Installs uv when the machine has none, then the locked environment.
install:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || $(PYTHON) -m pip install --quiet uv
	@$(UV) sync --locked --quiet

up: install
	$(UV) run caseflow-up

test: install
	$(UV) run pytest -q --durations=30

test-unit: install
	$(UV) run pytest -q -m "not service and not e2e"

lint: install
	$(UV) run ruff check .
	$(UV) run mypy libs/contracts/src libs/servicekit/src libs/devstack/src libs/forms/src $(foreach s,$(SERVICES),services/$(s)/src)
	$(UV) run lint-imports

fmt: install
	$(UV) run ruff format .
	$(UV) run ruff check --fix .

bench: install
	$(UV) run python bench/e2e.py

bench-reports: install
	$(UV) run python bench/reports.py

bench-contracts: install
	$(UV) run python bench/contracts.py

bench-screenpop: install
	$(UV) run python bench/screenpop.py

bench-mail: install
	$(UV) run python bench/mail.py

bench-routing: install
	$(UV) run python bench/routing.py

bench-sla-timers: install
	$(UV) run python bench/sla_timers.py

bench-knowledge: install
	$(UV) run python bench/knowledge.py

asyncapi: install
	$(UV) run python tools/asyncapi_docs.py --write

schemas: install
	$(UV) run python -m caseflow_contracts.schemas --write

clean:
	rm -rf .caseflow .pytest_cache .mypy_cache .ruff_cache
