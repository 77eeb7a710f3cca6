# run NAME SCRIPT ARGS...: one training run into runs/NAME, its metrics, confusion matrix and command into results/NAME.
# Skips a run whose results exist, so an interrupted script can simply be started again.
run() {
  local name=$1 script=$2; shift 2
  if [ -f "results/$name/all_results.json" ]; then echo "== $name: done already"; return; fi
  mkdir -p "results/$name" runs
  local command="$PY $script ${COMMON[*]} --output_dir runs/$name $*"
  echo "== $name: $command"
  local start=$SECONDS
  $PY "$script" "${COMMON[@]}" --output_dir "runs/$name" "$@" > "runs/$name.log" 2>&1
  cp "runs/$name/all_results.json" "runs/$name/confusion_matrix.json" "runs/$name/confusion_matrix.png" "results/$name/"
  cp "runs/$name/trainer_state.json" "results/$name/"  # every epoch's validation metrics
  printf '{"command": "%s", "wall_time_s": %d}\n' "$command" $((SECONDS - start)) > "results/$name/run.json"
}
