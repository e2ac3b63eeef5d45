# Cachewright: the two commands a newcomer needs are `make lab` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export CW_ROOT := $(CURDIR)

.PHONY: help lab lab-site lab-play lab-down test check lint pytest images venv molecule lock django-settings

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

lab: ## The main job: lab containers up, site.yml on inventories/lab, then the benchmark
	@bash scripts/lab.sh up

lab-site: ## site.yml again on the running lab (ARGS="--check --diff" or --tags/--limit)
	@bash scripts/lab.sh site $(ARGS)

lab-play: ## Another playbook on the running lab: make lab-play PLAYBOOK=playbooks/rolling_restart.yml [ARGS=...]
	@test -n "$(PLAYBOOK)" || { echo "usage: make lab-play PLAYBOOK=playbooks/<name>.yml [ARGS=...]"; exit 2; }
	@bash scripts/lab.sh play $(PLAYBOOK) $(ARGS)

lab-down: ## Remove the lab containers and network
	@bash scripts/lab.sh down

test: ## Install what is needed and run every check (lint, pytest, all Molecule scenarios)
	@bash scripts/test.sh

check: venv ## The fast tier: lint, then the unit tests (pytest -m unit: Python only, no program started)
	@source scripts/lib.sh && use_venv && yamllint --strict . && ansible-lint --profile production -q && ruff check . && ruff format --check . && pytest -q -p no:cacheprovider -m unit

lint: venv ## yamllint, ansible-lint (production profile), ruff
	@source scripts/lib.sh && use_venv && yamllint --strict . && ansible-lint --profile production -q && ruff check . && ruff format --check .

pytest: venv ## Python unit tests
	@source scripts/lib.sh && use_venv && pytest -q

images: ## Build the local Debian test images when missing or changed
	@bash scripts/docker-engine.sh && bash scripts/images.sh

venv: ## Create the virtualenv from requirements.txt
	@bash scripts/venv.sh

molecule: venv ## One scenario: make molecule ROLE=memcached SCENARIO=pool [CMD=converge]
	@test -n "$(ROLE)" || { echo "usage: make molecule ROLE=<role> [SCENARIO=default] [CMD=test]"; exit 2; }
	@bash scripts/docker-engine.sh && bash scripts/images.sh
	@source scripts/lib.sh && use_venv && cd roles/$(ROLE) && molecule $(or $(CMD),test) -s $(or $(SCENARIO),default)

django-settings: venv ## Write django_settings/<inventory>/<host>/cache_settings.py from the shipped inventories
	@bash scripts/django-settings.sh

lock: ## Re-pin requirements.txt from requirements.in
	@bash scripts/lock.sh
