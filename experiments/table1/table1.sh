#!/usr/bin/env bash
# Table 1 on real CREMA-D: LiteCNN from scratch, a teacher, and LiteCNN distilled from it, on both splits.
#   bash experiments/table1/table1.sh [DATA_DIR]        (about 90 minutes on 2 CPU cores; the README's run: SPEAKER_EPOCHS=15)
# Each run writes runs/<name>/ and copies its metrics, confusion matrix and command to experiments/results/<name>/.
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${1:-../shared/datasets/crema-d/AudioFLAC}
EPOCHS=${EPOCHS:-25}
SPEAKER_EPOCHS=${SPEAKER_EPOCHS:-$EPOCHS}
TEACHER_EPOCHS=${TEACHER_EPOCHS:-10}
PY=${PY:-.venv/bin/python}
COMMON=(--data_dir "$DATA" --disable_tqdm true --save_total_limit 1 --dataloader_pin_memory false)
source experiments/run_step.sh

for split in stratified speaker; do
  epochs=$([ "$split" = speaker ] && echo "$SPEAKER_EPOCHS" || echo "$EPOCHS")
  run "scratch_$split" train_student.py --split "$split" --num_train_epochs "$epochs"
  run "teacher_$split" train_teacher.py --split "$split" --config_name configs/litecnn_teacher.json \
    --max_duration_s 2.5 --num_train_epochs "$TEACHER_EPOCHS"
  run "distilled_$split" train_student.py --split "$split" --teacher "runs/teacher_$split" --num_train_epochs "$epochs"
done
