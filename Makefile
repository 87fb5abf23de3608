# One command each: `make setup`, `make test`, `make run`.
PY := .venv/bin/python

.PHONY: setup test run
setup .venv/.installed: requirements.txt scripts/setup.sh
	bash scripts/setup.sh

test: .venv/.installed
	$(PY) -m pytest -q

run: .venv/.installed
	$(PY) run.py run --scenario baseline --years 10 --seed 7 --out results/baseline
