#!/usr/bin/env bash
# Each trained student of cpu_distillation.sh (its repro_ twins too) scored by eval.py on its validation clips, as
# is and with per-speaker centring of its scores: experiments/results/<run>/speaker_adapted.json (read by
# cpu_table.py).
#   bash experiments/cpu_distillation/speaker_adaptation.sh [DATA_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
DATA=${1:-../shared/datasets/crema-d/AudioFLAC}
PY=${PY:-.venv/bin/python}
for results in experiments/results/s_*_seed* experiments/results/repro_s_*_seed*; do
  name=$(basename "$results")
  if [ -f "$results/speaker_adapted.json" ] || [ ! -f "runs/$name/model.safetensors" ]; then continue; fi
  echo "== $name"
  $PY eval.py "runs/$name" "$DATA" --subset validation --speaker_adaptation --json > "$results/speaker_adapted.json"
done
