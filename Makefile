# Two commands on a fresh machine: `make demo` (the whole chain on a synthetic corpus) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO := demo
DATA ?= ../shared/datasets/crema-d/AudioFLAC
export HF_HUB_OFFLINE ?= 1

.PHONY: setup setup-demo test lint format demo app bench model model-mix bench-deploy results cpu-distillation clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# torch first and alone: on a CPU machine this takes the CPU wheel; GPU users install their own torch before.
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.txt
	# the project itself (litecnn_ser, data, the model files), editable; its pinned dependencies are already in
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# The demo page's extra dependencies (gradio, selenium); its browser test also needs Debian's chromium and
# chromium-driver (`.ci/run` installs both), and is skipped without them unless REQUIRE_BROWSER_TEST=1.
setup-demo: setup
	$(PY) -m pip install --quiet -r requirements-demo.txt

test: setup
	$(PY) -m pytest

lint: setup
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: setup
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# data -> tiny wav2vec2 teacher -> distilled LiteCNN -> hub-ready export -> pipeline predictions (~3 minutes on 2 cores)
demo: setup
	$(PY) -m data.synthetic $(DEMO)/corpus --actors 12 --sentences 4 --seed 0
	$(PY) train_teacher.py --config_name tests/fixtures/tiny_wav2vec2.json --data_dir $(DEMO)/corpus/AudioWAV \
		--output_dir $(DEMO)/teacher --num_train_epochs 30 --learning_rate 3e-3 --save_total_limit 1 \
		--dataset_cache_dir $(DEMO)/cache --disable_tqdm true --dataloader_pin_memory false
	$(PY) train_student.py --teacher $(DEMO)/teacher --data_dir $(DEMO)/corpus/AudioWAV \
		--output_dir $(DEMO)/student --num_train_epochs 15 --learning_rate 1e-3 --save_total_limit 1 \
		--dataset_cache_dir $(DEMO)/cache --disable_tqdm true --dataloader_pin_memory false
	$(PY) predict.py $(DEMO)/student $(DEMO)/corpus/AudioWAV/1002_IEO_*.wav
	@echo "hub-ready student in $(DEMO)/student (model card: $(DEMO)/student/README.md)"

# Speed of the shipped model's own graphs (fp32, int8) beside a wav2vec2-base-sized classifier, 2 threads
bench: setup
	$(PY) bench.py --model models/litecnn-ser --no_large

# The shipped model, rebuilt from the data: teachers, student, exports, checks, card (about 45 min on 2 idle cores)
model: setup
	bash scripts/build_model.sh $(DATA)

# The cross-corpus model (models/litecnn-ser-mix): CREMA-D + SAVEE + TESS, crowd votes, a hint standardised per
# corpus, channel augmentation, silence trimming, 20 epochs (configs/litecnn_ser_mix.json; about 65 min on 2 cores,
# 2026-12-05); its card gets the recipe's leave-one-corpus-out rows
model-mix: setup
	RUNS=runs/model_mix OUT=models/litecnn-ser-mix RECIPE=configs/litecnn_ser_mix.json MIX="savee tess" \
	  LOCO=experiments/results/loco_mix_hint3_b05_aug_trim_votes_corphint_e20 COMMAND="make model-mix" \
	  bash scripts/build_model.sh $(DATA)

# Serve the demo page with the shipped model (models/litecnn-ser: make model first) on http://127.0.0.1:7860
app: setup-demo
	$(PY) app.py

# Peak memory and real-time factor: PyTorch vs the torch-free runtime (STUDENT and EXPORT from export.py);
# experiments/results/deploy_bench.json
STUDENT ?= runs/s_long_distilled_plainensemble_oof_seed42
EXPORT ?= runs/export
bench-deploy: setup
	$(PY) export.py $(STUDENT) $(EXPORT) --data_dir $(DATA) --int8
	$(PY) experiments/deploy/bench_deploy.py $(STUDENT) $(EXPORT) --data_dir $(DATA)

# Table 1 on real CREMA-D (about 2 hours on 2 cores; the README's run used SPEAKER_EPOCHS=15); numbers land in experiments/results/
results: setup
	bash experiments/table1/table1.sh $(DATA)

# Classical teachers + LiteCNN distilled vs from scratch over 3 seeds, speaker split (about 2 hours on 2 cores)
cpu-distillation: setup
	bash experiments/cpu_distillation/cpu_distillation.sh $(DATA)

clean:
	rm -rf $(DEMO) runs .pytest_cache .ruff_cache
