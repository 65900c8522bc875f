#!/usr/bin/env bash
# One GPU lease's measurements, as one prepared script (docs/BENCHMARKS.md, issue 15 point 6):
# the paper-preset pre-training eager and with the step as a CUDA graph on one machine, the step
# alone (and the graph's losses against the eager step's), and the loader alone. Each part's
# log goes to $OUT/<part>.log; its last line (one JSON object) is printed here.
#   OUT=/tmp/lease bash scripts/gpu_lease.sh          (on the GPU machine, from the checkout)
set -u
OUT=${OUT:-/tmp/lease}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
[ -d .whl ] && python -m pip install -q --no-deps .whl/*.whl 2>&1 | tail -1
python -c "import torch, cv2; print('torch', torch.__version__, 'opencv', cv2.__version__, torch.cuda.get_device_name(), 'cpus', __import__('os').cpu_count())"
G=${G:-/tmp/g}
IMAGES=${IMAGES:-10000}
part() {  # part NAME SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  echo "== $name $(date +%T)"
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  echo "exit $?"; grep -h "cuda_graph" "$OUT/$name.log"; tail -n 1 "$OUT/$name.log"
}
PRE=(python scripts/bench_gpu_pretrain.py --out "$G" --images "$IMAGES" --epochs 3 --set lr_steps=2)
part eager12 200 "${PRE[@]}" --workers 12 --run eager12 --set cuda_graph=false
part graph12 120 "${PRE[@]}" --workers 12 --run graph12 --set cuda_graph=true
part step 120 python scripts/bench_train.py --gpu --steps 40 --world "$G/world" --workers 12
part graph14 110 "${PRE[@]}" --workers 14 --run graph14 --set cuda_graph=true
part loader 60 python scripts/bench_loader.py --preset paper --world "$G/world" --workers 12 --batches 60
cp "$G"/graph12/metrics.jsonl "$OUT/graph12_metrics.jsonl" 2>/dev/null
echo "== done $(date +%T)"
