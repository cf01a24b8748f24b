# FluenzR — the two commands: `make run` and `make test`.
VENV ?= .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint messages clean

install: $(STAMP)

$(STAMP): pyproject.toml scripts/install.sh $(wildcard locale/*/LC_MESSAGES/django.po)
	@VENV=$(VENV) scripts/install.sh
	@touch $(STAMP)

run: install
	@VENV=$(VENV) scripts/run.sh

test: install
	@scripts/ensure-test-services.sh
	@$(VENV)/bin/pytest $(PYTEST_ARGS)

lint: install
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

messages: install
	@DEBUG=1 $(VENV)/bin/python manage.py makemessages -l fr --ignore=.venv --ignore=var --ignore=tests --ignore=scripts --ignore=bench
	@DEBUG=1 $(VENV)/bin/python manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) var
