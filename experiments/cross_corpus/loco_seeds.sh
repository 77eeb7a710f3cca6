#!/usr/bin/env bash
# The cross-corpus recipe (models/litecnn-ser-mix's: crowd votes as teacher + eGeMAPS hint on the augmented,
# trimmed, balanced mix) against its from-scratch twin (the same without teacher and hint), seeds 42, 1 and 2, on
# the savee and tess folds of the leave-one-corpus-out protocol: 12 trainings of 40-75 minutes each on 2 cores
# (two at a time, one thread each: the two arms side by side). Folds already scored in
# experiments/results/loco_NAME[_seedN]/ are skipped, so on a clone this trains nothing until you delete the rows
# you want to rerun. Then: python experiments/cross_corpus/loco.py --seeds
# Usage: bash experiments/cross_corpus/loco_seeds.sh [SHARED]   (SHARED: the folder holding crema-d/, savee/, tess/)
set -euo pipefail
cd "$(dirname "$0")/../.."
S=${1:-../shared/datasets}
PY=${PY:-.venv/bin/python}
for need in crema-d/AudioFLAC crema-d/tabulatedVotes.csv savee tess; do
  [ -e "$S/$need" ] || { echo "error: $S/$need: not found (usage: loco_seeds.sh [SHARED])" >&2; exit 2; }
done
mkdir -p runs
export OMP_NUM_THREADS=1  # as every committed row: another thread count is another draw
CORPORA=(--corpora cremad=$S/crema-d/AudioFLAC savee=$S/savee tess=$S/tess)
RECIPE=(configs/student_recipe_deep.json --corpus_balance 0.5 --num_train_epochs 10
  --channel_augmentation reverb eq bandlimit telephone codec noise babble --trim_silence true)
suffix() { [ "$1" = 42 ] || echo "_seed$1"; }
arm() {  # NAME EXTRA...: the three seeds of one arm, one after the other
  local name=$1; shift
  for seed in 42 1 2; do
    $PY experiments/cross_corpus/loco.py --name "$name$(suffix $seed)" --folds savee tess "${CORPORA[@]}" -- \
      "${RECIPE[@]}" --seed $seed "$@"
  done
}
arm mix_hint3_b05_aug_trim_votes_e10 --hint_features eGeMAPSv02 --hint_weight 3 \
  --teacher $S/crema-d/tabulatedVotes.csv > runs/loco_seeds_votes.log 2>&1 &
votes=$!
arm mix_b05_aug_trim_scratch_e10 > runs/loco_seeds_scratch.log 2>&1 &
scratch=$!
failed=0  # wait for both arms even when one fails, and say which and where its log is
wait $votes || { failed=1; echo "error: the votes arm failed: see runs/loco_seeds_votes.log" >&2; }
wait $scratch || { failed=1; echo "error: the from-scratch arm failed: see runs/loco_seeds_scratch.log" >&2; }
$PY experiments/cross_corpus/loco.py --seeds
exit $failed
