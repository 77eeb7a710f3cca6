#!/usr/bin/env bash
# The shipped model, rebuilt from the data: four classical teachers, the student (configs/litecnn_ser.json), its
# ONNX exports and its model card, into models/litecnn-ser (hub layout). `make model`; about 45 min on 2 cores.
# Each step is skipped when its output exists, so an interrupted build is simply started again.
#   bash scripts/build_model.sh [DATA_DIR]     RUNS=runs/model OUT=models/litecnn-ser
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/datasets/crema-d/AudioFLAC}
PY=${PY:-.venv/bin/python}
RUNS=${RUNS:-runs/model}
OUT=${OUT:-models/litecnn-ser}
mkdir -p "$RUNS"

# teacher NAME ARGS...: one classical teacher (openSMILE functionals + scikit-learn) on the 40 training actors
teacher() {
  local name=$1; shift
  if [ -f "$RUNS/$name/eval_results.json" ]; then echo "== $name: done already"; return; fi
  echo "== teacher $name"
  $PY train_feature_teacher.py --data_dir "$DATA" --split speaker --output_dir "$RUNS/$name" "$@"
}
teacher t_compare_mlp --feature_set ComParE_2016 --classifier mlp --C 100 --oof_folds 5
teacher t_compare_mlp_oof_seed1 --feature_set ComParE_2016 --classifier mlp --C 100 --oof_folds 5 --split_seed 42 --seed 1
teacher t_compare_mlp_oof_seed2 --feature_set ComParE_2016 --classifier mlp --C 100 --oof_folds 5 --split_seed 42 --seed 2
teacher t_egemaps_svm --feature_set eGeMAPSv02 --classifier svm --oof_folds 5

# The student: one thread, as every committed CPU run (the same numbers on every machine)
if [ ! -f "$RUNS/student/all_results.json" ]; then
  echo "== student"
  last=$(ls -d "$RUNS/student"/checkpoint-* 2> /dev/null | sort -V | tail -n 1 || true)
  OMP_NUM_THREADS=1 $PY train_student.py configs/litecnn_ser.json --data_dir "$DATA" --output_dir "$RUNS/student" \
    --disable_tqdm true ${last:+--resume_from_checkpoint "$last"}
fi
