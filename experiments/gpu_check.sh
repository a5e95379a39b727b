#!/usr/bin/env bash
# GPU readiness in one go (issue 16 item 6): every step prints JSON lines.
#
#   experiments/gpu_check.sh                 # on a GPU machine (cuda), Tmall from ../shared/data
#   experiments/gpu_check.sh --device cpu    # dry mode: every step tiny, on the CPU (CI, tests)
#
# Steps: benchmark.py (training + evaluation throughput) at batch 100 and 1,024 in fp32, TF32
# and bf16-mixed; one Tmall epoch with its test pass (timed); sampled vs full training at 1M
# items with the peak GPU memory (benchmark_sampled.py); the ANN retrieval benchmark (faiss-cpu:
# a CPU figure whatever the device). Serving (benchmark_serve.py) is CPU-bound by design and not
# run here. Environment: PYTHON (default /work/venv/bin/python or python3), DATA_DIR (Tmall).
set -euo pipefail

DEVICE=cuda
while [[ $# -gt 0 ]]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --device=*) DEVICE="${1#--device=}"; shift ;;
    *) echo "gpu_check.sh: unknown argument $1 (use --device cuda|cpu)" >&2; exit 2 ;;
  esac
done
case "$DEVICE" in cpu|cuda|cuda:*) ;; *) echo "gpu_check.sh: --device must be cpu or cuda" >&2; exit 2 ;; esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x /work/venv/bin/python ]]; then PYTHON=/work/venv/bin/python; else PYTHON=python3; fi
fi
DATA_DIR="${DATA_DIR:-$ROOT/../shared/data/tmall-gcegnn}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

note() { printf '{"gpu_check": "%s", "device": "%s"%s}\n' "$1" "$DEVICE" "${2:-}"; }

if [[ "$DEVICE" == cpu ]]; then
  # dry mode: the same steps on the synthetic dataset, one step each
  DATA=(--config experiments/quickstart.yaml --data.synthetic_num_items 200
        --data.synthetic_num_train_sessions 300 --data.synthetic_num_test_sessions 50)
  BATCHES=(8 16); STEPS=(--steps 1 --warmup 1 --repeats 1)
  ITEMS=2000; RETRIEVAL=(--items 3000 --topics 30 --sessions 10 --nprobe 8)
  FIT_LIMITS=(--trainer.limit_train_batches 2 --trainer.limit_val_batches 2
              --trainer.limit_test_batches 2 --trainer.accelerator cpu)
else
  DATA=(--config experiments/tmall.yaml --data.data_dir "$DATA_DIR")
  BATCHES=(100 1024); STEPS=(--steps 20 --warmup 5 --repeats 3)
  ITEMS=1000000; RETRIEVAL=(--sessions 200)
  FIT_LIMITS=(--trainer.accelerator gpu)
fi

note start ", \"python\": \"$PYTHON\""
for batch in "${BATCHES[@]}"; do
  for mode in fp32 tf32 bf16; do
    extra=(--precision 32)
    [[ $mode == tf32 ]] && extra=(--precision 32 --tf32)
    [[ $mode == bf16 ]] && extra=(--precision bf16-mixed)
    [[ $DEVICE == cpu && $mode == tf32 ]] && continue  # TF32 is a CUDA setting
    "$PYTHON" experiments/benchmark.py "${DATA[@]}" --device "$DEVICE" --batch-size "$batch" \
      "${STEPS[@]}" "${extra[@]}"
  done
done

started=$(date +%s%N)
"$PYTHON" -m dmi_gnn fit "${DATA[@]}" --trainer.max_epochs 1 "${FIT_LIMITS[@]}" \
  --trainer.default_root_dir "$WORK/fit" --trainer.enable_progress_bar false \
  > "$WORK/fit.log" 2>&1 || { tail -20 "$WORK/fit.log" >&2; note fit_failed; exit 1; }
ended=$(date +%s%N)
note one_epoch_fit_and_test ", \"ms\": $(( (ended - started) / 1000000 ))"
grep -Eo '"?test/HR@20"?[^,}]*' "$WORK/fit.log" | head -1 | sed 's/^/# /' || true

"$PYTHON" experiments/benchmark_sampled.py --items "$ITEMS" --steps 2 --device "$DEVICE" \
  $([[ $DEVICE == cpu ]] && echo "--batch 16 --full_batch 8")
"$PYTHON" experiments/benchmark_retrieval.py "${RETRIEVAL[@]}"
note done
