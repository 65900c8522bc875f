# WSP Studio. `make demo` and `make test` work on a fresh machine: each creates .venv if missing.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
SAMPLES ?= ../shared/real-samples
DEMO   ?= demo-out

.PHONY: venv demo test bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job on the embedded default (scripts/demo.py, about ten minutes on 2 cores): a
# synthetic world and the real samples imported into a fresh store, its statistics, the measured
# label noise, a WSP pre-training, its relative-depth evaluation on held-out images, the store
# scored by it, a 3D fine-tuning from it and its evaluation on held-out images; every step is a
# printed wsp-core command, and the last line is one JSON object with the held-out figures.
# The paper's Table 4 on the synthetic world is scripts/reproduce_table4.py (longer).
demo: $(STAMP)
	$(PY) scripts/demo.py --out $(DEMO) --samples $(SAMPLES)

# GUI tests need a display: scripts/with_display.sh runs pytest under Xvfb (installing it if
# missing), else on Qt's offscreen platform. The store, desk and CLI tests also run on a
# throw-away PostgreSQL server: scripts/with_postgres.sh installs Debian's packages if missing.
test: $(STAMP)
	scripts/with_postgres.sh scripts/with_display.sh $(PY) -m pytest -q

bench: $(STAMP)
	$(PY) scripts/bench_labels.py
	$(PY) scripts/bench_synth.py
	$(PY) scripts/bench_train.py

clean:
	rm -rf $(DEMO) .pytest_cache .hypothesis
