# run NAME SCRIPT ARGS...: one training run into runs/NAME (scratch), its metrics, confusion matrix and command into
# $RESULTS/NAME (committed; default experiments/results). Sourced from the repository root by the recipes' drivers.
# Skips a run whose results exist, so an interrupted script can simply be started again; a run interrupted after
# its first checkpoint goes on from its newest one (--resume_from_checkpoint: exact, the trainer restores the RNG
# states and the data order), and its run.json says so (`resumed_from`; `wall_time_s` then times the resumed part
# only). Delete runs/NAME to start such a run over.
RESULTS=${RESULTS:-experiments/results}
run() {
  local name=$1 script=$2; shift 2
  if [ -f "$RESULTS/$name/all_results.json" ]; then echo "== $name: done already"; return; fi
  mkdir -p "$RESULTS/$name" runs
  local last resumed=""
  last=$(ls -d "runs/$name"/checkpoint-* 2> /dev/null | sort -V | tail -n 1 || true)
  if [ -n "$last" ]; then
    set -- "$@" --resume_from_checkpoint "$last"
    resumed=", \"resumed_from\": \"$last\""
  else
    : > "runs/$name.log"  # a new run starts a new log; a resumed one appends to its own
  fi
  local command="$PY $script ${COMMON[*]} --output_dir runs/$name $*"
  echo "== $name: $command"
  local start=$SECONDS
  $PY "$script" "${COMMON[@]}" --output_dir "runs/$name" "$@" >> "runs/$name.log" 2>&1
  cp "runs/$name/all_results.json" "runs/$name/confusion_matrix.json" "runs/$name/confusion_matrix.png" "$RESULTS/$name/"
  cp "runs/$name/trainer_state.json" "$RESULTS/$name/"  # every epoch's validation metrics
  printf '{"command": "%s", "OMP_NUM_THREADS": "%s", "wall_time_s": %d%s}\n' "$command" "${OMP_NUM_THREADS:-}" \
    $((SECONDS - start)) "$resumed" > "$RESULTS/$name/run.json"
}
