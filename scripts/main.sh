#!/usr/bin/env bash
# The main job: set up, train a sequence model on synthetic Markov-chain data,
# report its accuracy on held-out users and show recommendations.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-env.sh cli
out=${SPOTLIGHT_OUT:-runs/main}
mkdir -p "$out"
.venv/bin/spotlight train --dataset synthetic --representation cnn --loss adaptive_hinge \
  --n-iter 10 --max-sequence-length 10 --random-state 42 \
  --output "$out/model.pt" --plot "$out/curves.png"
.venv/bin/spotlight evaluate "$out/model.pt" --dataset synthetic \
  --max-sequence-length 10 -k 5 --json "$out/metrics.json"
.venv/bin/spotlight recommend "$out/model.pt" --items 7 52 32 -k 5
