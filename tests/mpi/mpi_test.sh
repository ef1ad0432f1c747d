#!/usr/bin/env bash
# The tool under a real mpirun (Open MPI), on a slice of Fashion-MNIST: the model files of -np 1, 2, 4 (and threads
# per rank) byte for byte the same as one process's; over TCP; a run resumed with another process count; one writer;
# and the faults: a bad data folder on one rank, a killed rank, ranks started with different settings.
#   mpi_test.sh CNN CASE     CASE: bits | tcp | resume | faults
set -euo pipefail
cnn=$1
case_name=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
mpi=(mpirun --allow-run-as-root --oversubscribe --bind-to none)
fail() { echo "FAIL: $*" >&2; exit 1; }

# A net with every kind of sum over the batch: convolution and dense gradients, batch normalisation, dropout.
cat > net.json <<'JSON'
{"input": [1, 28, 28], "loss": "softmax_cross_entropy", "layers": [
  {"type": "conv2d", "filters": 6, "kernel": 5, "padding": "same"}, {"type": "batchnorm2d"}, {"type": "relu"},
  {"type": "maxpool2d", "kernel": 2}, {"type": "conv2d", "filters": 8, "kernel": 3, "stride": 2},
  {"type": "relu"}, {"type": "flatten"}, {"type": "dense", "units": 32}, {"type": "relu"},
  {"type": "dropout", "rate": 0.25}, {"type": "dense", "units": 10}]}
JSON
# 1,003 images in batches of 50: the last batch holds 3, fewer than 4 processes
train=(train --net net.json --train-limit 1003 --test-limit 200 --momentum 0.9 --augment flip,shift:2
       --quiet)

case $case_name in
bits)
  # every run names the same metrics file (the model keeps its name, for a resumed run), moved away after each
  "$cnn" "${train[@]}" --epochs 2 --threads 1 --out one.cnn --metrics m.csv >/dev/null && rm m.csv
  for np in 1 2 4; do
    "${mpi[@]}" -np $np "$cnn" "${train[@]}" --epochs 2 --threads 1 --out np$np.cnn --metrics m.csv > np$np.log
    mv m.csv np$np.csv
    cmp one.cnn np$np.cnn || fail "-np $np --threads 1 wrote another model than one process"
    [ "$(wc -l < np$np.csv)" -eq 3 ] || fail "-np $np: the metrics file has $(wc -l < np$np.csv) lines, not 1 + 2 epochs"
    [ "$(grep -c '^epoch' np$np.log)" -eq 2 ] || fail "-np $np: printed $(grep -c '^epoch' np$np.log) epoch lines, not 2"
  done
  grep -q "4 processes × 1 thread" np4.log || fail "the first line does not say 4 processes"
  "${mpi[@]}" -np 2 "$cnn" "${train[@]}" --epochs 2 --threads 2 --out np2t2.cnn --metrics m.csv >/dev/null
  cmp one.cnn np2t2.cnn || fail "-np 2 --threads 2 wrote another model than one process"
  echo "mpirun -np 1, 2, 4 (1 thread) and -np 2 (2 threads): the model file of one process, byte for byte"
  ;;
tcp)
  "$cnn" "${train[@]}" --epochs 2 --threads 1 --out one.cnn >/dev/null
  "${mpi[@]}" --mca btl tcp,self -np 2 "$cnn" "${train[@]}" --epochs 2 --threads 1 --out tcp.cnn >/dev/null
  cmp one.cnn tcp.cnn || fail "-np 2 over TCP wrote another model than one process"
  echo "mpirun --mca btl tcp,self -np 2: the model file of one process, byte for byte"
  ;;
resume)
  "$cnn" "${train[@]}" --epochs 2 --threads 1 --out whole.cnn >/dev/null
  "$cnn" "${train[@]}" --epochs 1 --threads 1 --out one-half.cnn >/dev/null  # one process resumed (dropout's masks)
  "$cnn" train --resume one-half.cnn --epochs 2 --threads 1 --quiet --out one-resumed.cnn >/dev/null
  cmp whole.cnn one-resumed.cnn || fail "1 epoch resumed to 2 (one process) is not the uninterrupted run"
  "${mpi[@]}" -np 2 "$cnn" "${train[@]}" --epochs 1 --threads 1 --out half.cnn >/dev/null
  "${mpi[@]}" -np 4 "$cnn" train --resume half.cnn --epochs 2 --threads 1 --quiet --out resumed.cnn >/dev/null
  cmp whole.cnn resumed.cnn || fail "1 epoch on 2 processes resumed on 4 is not the uninterrupted run"
  echo "1 epoch with -np 2, resumed to 2 with -np 4: the uninterrupted one-process model, byte for byte"
  ;;
faults)
  # a data folder that one rank cannot read: the whole job ends at once, one line names the rank; the model stays
  "$cnn" "${train[@]}" --epochs 1 --threads 1 --out model.cnn >/dev/null
  cp model.cnn before.cnn
  start=$SECONDS
  if "${mpi[@]}" -np 1 "$cnn" "${train[@]}" --epochs 2 --threads 1 --out model.cnn : \
       -np 1 "$cnn" "${train[@]}" --epochs 2 --threads 1 --out model.cnn --data "$work/missing" > bad.log 2> bad.err; then
    fail "a rank without its data folder: the job succeeded"
  fi
  grep -q "cnn: error: rank 1 of 2: .*missing" bad.err || { cat bad.err; fail "no line naming rank 1 and the folder"; }
  [ $((SECONDS - start)) -lt 60 ] || fail "the job took $((SECONDS - start)) s to end"
  cmp before.cnn model.cnn || fail "the model file changed"
  # ranks started with different settings: refused before training, by every rank
  if "${mpi[@]}" -np 1 "$cnn" "${train[@]}" --epochs 2 --threads 1 --out model.cnn : \
       -np 1 "$cnn" "${train[@]}" --epochs 2 --threads 1 --out model.cnn --seed 2 > seed.log 2> seed.err; then
    fail "ranks with different seeds: the job succeeded"
  fi
  grep -q "rank 1 was started with other settings than rank 0" seed.err || { cat seed.err; fail "no line on the settings"; }
  cmp before.cnn model.cnn || fail "the model file changed"
  # a rank killed mid-run: the job ends within seconds, the model file holds the last finished epoch and loads
  "${mpi[@]}" -np 2 "$cnn" train --net net.json --epochs 1000 --train-limit 1003 --test-limit 200 --threads 1 --quiet \
    --out killed.cnn > kill.log 2> kill.err &
  job=$!
  for _ in $(seq 300); do [ -f killed.cnn ] && break; sleep 0.1; done
  [ -f killed.cnn ] || fail "no model file after 30 s"
  victim=
  for p in $(pgrep -f "out killed.cnn" || true); do
    if tr '\0' '\n' < /proc/$p/environ 2>/dev/null | grep -q '^OMPI_COMM_WORLD_RANK=1$'; then victim=$p; fi
  done
  [ -n "$victim" ] || fail "rank 1 not found"
  kill -9 "$victim"
  start=$SECONDS
  if wait $job; then fail "a killed rank: the job succeeded"; fi
  [ $((SECONDS - start)) -lt 30 ] || fail "the job took $((SECONDS - start)) s to end after a rank was killed"
  "$cnn" info --model killed.cnn > info.txt || fail "the model file left by the killed job does not load"
  echo "a rank without its data, ranks with other settings, a killed rank: the job ends with the cause; the model stays"
  ;;
*) fail "unknown case $case_name" ;;
esac
