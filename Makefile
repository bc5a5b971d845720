# hypernas: `make book` and `make test` are the whole set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PROFILE ?= quick
export HYPERNAS_DATA ?= $(CURDIR)/data

.PHONY: setup lint test quicktest book run clean bench

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[book,test,export,workflow]'
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# The tests and the smoke chapters run side by side, one torch thread each: on a 2-core machine two
# one-thread processes get more done than one process of two threads (small tensors scale poorly).
test: setup lint
	mkdir -p build/smoke
	OMP_NUM_THREADS=1 $(PY) scripts/run_chapters.py --profile smoke --out build/smoke \
		--results build/smoke/results > build/smoke/chapters.log 2>&1 & chapters=$$!; \
	OMP_NUM_THREADS=1 $(PY) -m pytest -q --durations=15 tests; tests=$$?; \
	wait $$chapters; built=$$?; grep -v "^\[IPKernelApp\]" build/smoke/chapters.log; \
	test $$tests -eq 0 && test $$built -eq 0
	OMP_NUM_THREADS=1 $(PY) -m pytest -q --nbval build/smoke/ipynb --nbval-current-env -p no:cacheprovider \
		--nbval-sanitize-with tests/nbval_sanitize.cfg

quicktest: setup
	$(PY) -m pytest -q -m "not slow" tests

book: setup
	$(PY) scripts/run_chapters.py --profile $(PROFILE) --out book --results results/$(PROFILE)
	$(VENV)/bin/jupyter-book build book -W -n --keep-going
	$(PY) scripts/check_html.py book/_build/html

run: setup
	$(VENV)/bin/hypernas search exp1 --profile $(PROFILE) --out runs/$(PROFILE)/exp1

clean:
	rm -rf build book/_build runs

bench: setup
	$(PY) -m benchmarks.search_step
	$(PY) -m benchmarks.latency_prediction

# The paper-scale campaign: a background queue of searches and evaluations on Snakemake, resumable.
.PHONY: paper paper-status paper-stop
paper: setup
	$(VENV)/bin/hypernas campaign start

paper-status: setup
	$(VENV)/bin/hypernas campaign status

paper-stop: setup
	$(VENV)/bin/hypernas campaign stop

# The short profile's seeds and baseline studies of exp1-3 (hours on two cores), the same queue machinery;
# run one campaign at a time on a small machine. `make book` then shows them in the baselines chapter.
.PHONY: baselines baselines-status baselines-stop
baselines: setup
	$(VENV)/bin/hypernas campaign start --profile $(PROFILE)

baselines-status: setup
	$(VENV)/bin/hypernas campaign status --profile $(PROFILE)

baselines-stop: setup
	$(VENV)/bin/hypernas campaign stop --profile $(PROFILE)
