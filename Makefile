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

# The main job on the embedded default: a small synthetic world and the real samples imported
# into a fresh store, its statistics, the measured label noise, a short WSP pre-training, its
# relative-depth evaluation, the store scored by it, a short 3D fine-tuning from it with its
# 3D evaluation, and a short version of the paper's Table 4 ablation (printed).
demo: $(STAMP)
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(VENV)/bin/wsp-core synth --out $(DEMO)/world --images 200 --seed 0
	$(VENV)/bin/wsp-core import --db $(DEMO)/store.db --format synth --ann $(DEMO)/world/scenes.json --images $(DEMO)/world --name synth-world
	$(VENV)/bin/wsp-core import --db $(DEMO)/store.db --format coco --ann $(SAMPLES)/coco/test_coco.json --images $(SAMPLES)/coco --name coco-sample
	$(VENV)/bin/wsp-core import --db $(DEMO)/store.db --format crowdpose --ann $(SAMPLES)/crowdpose/test_crowdpose.json --images $(SAMPLES)/crowdpose --name crowdpose-sample
	$(VENV)/bin/wsp-core import --db $(DEMO)/store.db --format mpii --ann $(SAMPLES)/mpii/test_mpii.json --images $(SAMPLES)/mpii --name mpii-sample
	$(VENV)/bin/wsp-core export --db $(DEMO)/store.db --out $(DEMO)/pairs.jsonl
	$(VENV)/bin/wsp-core stats --db $(DEMO)/store.db
	$(VENV)/bin/wsp-core noise-report --db $(DEMO)/store.db
	$(VENV)/bin/wsp-core pretrain --db $(DEMO)/store.db --out $(DEMO)/wsp-run --preset cpu-small --set epochs=6 --set lr_steps=5 --set max_pairs=256 --set val_fraction=0.25 --progress none
	$(VENV)/bin/wsp-core eval-rd --ckpt $(DEMO)/wsp-run/last.pt --workers 0
	$(VENV)/bin/wsp-core score --db $(DEMO)/store.db --ckpt $(DEMO)/wsp-run/last.pt --workers 0
	$(VENV)/bin/wsp-core finetune --data synth:$(DEMO)/world --init $(DEMO)/wsp-run/last.pt --out $(DEMO)/ft-run --preset cpu-small --protocol all --set epochs=1 --set max_samples=128 --db $(DEMO)/store.db --progress none
	$(VENV)/bin/wsp-core eval-3d --ckpt $(DEMO)/ft-run/last.pt --data synth:$(DEMO)/world --protocol all --workers 0
	$(PY) scripts/reproduce_table4.py --images 150 --pretrain-epochs 6 --epochs 2 --out $(DEMO)/table4 --no-docs

# GUI tests need a display: scripts/with_display.sh runs pytest under Xvfb (installing it if
# missing), else on Qt's offscreen platform.
test: $(STAMP)
	scripts/with_display.sh $(PY) -m pytest -q

bench: $(STAMP)
	$(PY) scripts/bench_labels.py
	$(PY) scripts/bench_synth.py
	$(PY) scripts/bench_train.py

clean:
	rm -rf $(DEMO) .pytest_cache .hypothesis
