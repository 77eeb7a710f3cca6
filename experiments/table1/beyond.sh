#!/usr/bin/env bash
# Beyond the paper at the same size, on the speaker split (new voices): random 1 s crops over the whole clip in
# training, whole clips (up to 6 s) in evaluation. Run after table1.sh (it reuses runs/teacher_speaker).
#   bash experiments/table1/beyond.sh [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${1:-../shared/datasets/crema-d/AudioFLAC}
EPOCHS=${EPOCHS:-25}
PY=${PY:-.venv/bin/python}
COMMON=(--data_dir "$DATA" --disable_tqdm true --save_total_limit 1 --dataloader_pin_memory false)
source experiments/run_step.sh

WHOLE=(--split speaker --train_crop random --eval_max_duration_s 6.0 --num_train_epochs "$EPOCHS")
run scratch_speaker_crops train_student.py "${WHOLE[@]}"
run distilled_speaker_crops train_student.py "${WHOLE[@]}" --teacher runs/teacher_speaker
