#!/usr/bin/env bash
# Classical teachers under the leave-one-corpus-out protocol: eGeMAPS + RBF SVM (seed 42, CREMA-D's speaker split,
# validation actors as in loco.py), trained on CREMA-D alone or on the mix without the scored corpus, with features
# as they are, standardised per speaker (each speaker's other clips) or per corpus (the other clips of the scored
# corpus, no speaker; each corpus of a mix apart in training): the last two are not one-clip numbers.
# Scores to experiments/results/loco_teachers/egemaps_svm.json. About 15 minutes on 2 cores with the functionals to
# extract, a minute or two once they are cached. The mix teachers also keep out-of-fold logits of their training clips
# (5 folds of speakers): a student of the fold's mix can distil them (`loco.py ... --teacher
# runs/loco_teachers/egemaps_svm_mix_{fold}_corpus --teacher_logits out_of_fold`).
# Usage: bash experiments/cross_corpus/loco_teachers.sh [SHARED]
set -euo pipefail
cd "$(dirname "$0")/../.."
S=${1:-../shared/datasets}
PY=${PY:-.venv/bin/python}
T=runs/loco_teachers
mkdir -p $T experiments/results/loco_teachers
fit() {  # NAME DATA_DIR... [flags]: one teacher, skipped when it exists
  local name=$1; shift
  [ -f $T/$name/eval_results.json ] || $PY train_feature_teacher.py "$@" --split speaker --split_seed 42 --seed 42 \
    --feature_set eGeMAPSv02 --classifier svm --output_dir $T/$name
}
score() { $PY eval.py $T/$1 $S/$2 --corpus $2 --json > $T/$1.$2.json; }
declare -A NORMALISE=([spkfalse]="" [spktrue]="--speaker_normalization true" [corpus]="--corpus_normalization true")
for norm in spkfalse spktrue corpus; do
  flags=${NORMALISE[$norm]}
  fit egemaps_svm_cremad_$norm --data_dir $S/crema-d/AudioFLAC $flags
  score egemaps_svm_cremad_$norm savee
  score egemaps_svm_cremad_$norm tess
  fit egemaps_svm_mix_savee_$norm --data_dir cremad=$S/crema-d/AudioFLAC tess=$S/tess --validation_corpus cremad $flags \
    --oof_folds 5
  score egemaps_svm_mix_savee_$norm savee
  fit egemaps_svm_mix_tess_$norm --data_dir cremad=$S/crema-d/AudioFLAC savee=$S/savee --validation_corpus cremad $flags \
    --oof_folds 5
  score egemaps_svm_mix_tess_$norm tess
done
$PY - << 'PYTHON'
import json
from pathlib import Path

rows = []
for scored in sorted(Path("runs/loco_teachers").glob("*.*.json")):
    name, corpus = scored.name.split(".")[:2]
    result = json.loads(scored.read_text())
    validation = json.loads((scored.parent / name / "eval_results.json").read_text())
    rows.append({
        "teacher": name, "scored_on": corpus, "heard": result["heard"],
        {"spkfalse": "one_clip", "spktrue": "speaker_normalised", "corpus": "corpus_normalised"}[name.split("_")[-1]]: {
            key: result["metrics"][key] for key in ("accuracy", "uar")},
        "cremad_validation_accuracy": validation["eval_accuracy"],
    })
Path("experiments/results/loco_teachers/egemaps_svm.json").write_text(json.dumps(rows, indent=1) + "\n")
for row in rows:
    scores = next(row[key] for key in ("one_clip", "speaker_normalised", "corpus_normalised") if key in row)
    print(row["teacher"], row["scored_on"], {k: round(v, 4) for k, v in scores.items()},
          round(row["cremad_validation_accuracy"], 4))
PYTHON
