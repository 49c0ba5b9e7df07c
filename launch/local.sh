#!/usr/bin/env bash
# Runs N cooperating JAX processes on this machine, each with its own CPU
# devices, exactly as N hosts of a pod would run: the way to exercise the
# multi-host code paths (jax.distributed, per-process data shards, global
# batches) on a laptop.
#
# Usage:
#   NUM_PROCESSES=2 CPU_DEVICES=2 CONFIG=configs/demo.py WORKDIR=runs/local2 \
#     launch/local.sh [--dry-run] [-- extra main.py flags]
#   NUM_PROCESSES=2 launch/local.sh [--dry-run] -- python3 my_script.py ...
#
# Without a command after `--` it runs
#   $PYTHON -m animejax.main --config=$CONFIG --workdir=$WORKDIR [extra flags]
# (anything after `--` that starts with `-` is passed on as extra flags);
# with a command after `--` (first word not starting with `-`) it runs that.
#
# Variables:
#   NUM_PROCESSES  number of processes (default 2)
#   CPU_DEVICES    CPU devices per process (default 1)
#   PORT           coordinator port on 127.0.0.1 (default 29500 + $$ % 1000)
#   PYTHON         interpreter (default python3)
#   CONFIG, WORKDIR  required when no command is given
#   LOG_DIR        logs of processes 1..N-1 (default $WORKDIR/logs, or
#                  ./local_logs with an explicit command); process 0 prints
#                  to this terminal
#   DRY_RUN=1      (or --dry-run) print the command lines and exit
#
# Every process gets ANIMEJAX_COORDINATOR=127.0.0.1:$PORT,
# ANIMEJAX_NUM_PROCESSES, ANIMEJAX_PROCESS_ID (read by
# animejax.distributed.maybe_initialize), JAX_PLATFORMS=cpu and
# XLA_FLAGS=--xla_force_host_platform_device_count=$CPU_DEVICES. The script
# waits for all of them and fails (stopping the others) as soon as one fails.
set -euo pipefail

# shellcheck source=launch/common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DRY_RUN="${DRY_RUN:-0}"
args=()
while (($#)); do
  case "$1" in
    --dry-run) DRY_RUN=1; shift ;;
    --) shift; args=("$@"); break ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (put main.py flags or a command after --)" ;;
  esac
done

NUM_PROCESSES="${NUM_PROCESSES:-2}"
CPU_DEVICES="${CPU_DEVICES:-1}"
PORT="${PORT:-$((29500 + $$ % 1000))}"
PYTHON="${PYTHON:-python3}"
[[ "$NUM_PROCESSES" =~ ^[1-9][0-9]*$ ]] || die "NUM_PROCESSES='$NUM_PROCESSES' must be a positive integer"
[[ "$CPU_DEVICES" =~ ^[1-9][0-9]*$ ]] || die "CPU_DEVICES='$CPU_DEVICES' must be a positive integer"
if ! [[ "$PORT" =~ ^[0-9]+$ ]] || ((PORT < 1 || PORT > 65535)); then
  die "PORT='$PORT' must be a TCP port number"
fi

if ((${#args[@]})) && [[ "${args[0]}" != -* ]]; then
  cmd=("${args[@]}")
  LOG_DIR="${LOG_DIR:-local_logs}"
else
  [[ -n "${CONFIG:-}" ]] || die "CONFIG is not set (e.g. CONFIG=configs/demo.py), or give a command after --"
  [[ -n "${WORKDIR:-}" ]] || die "WORKDIR is not set (e.g. WORKDIR=runs/local2), or give a command after --"
  cmd=("$PYTHON" -m animejax.main "--config=$CONFIG" "--workdir=$WORKDIR" "${args[@]}")
  LOG_DIR="${LOG_DIR:-$WORKDIR/logs}"
fi

env_for() {  # env_for PROCESS_ID -> the variables of that process
  echo "ANIMEJAX_COORDINATOR=127.0.0.1:$PORT" \
    "ANIMEJAX_NUM_PROCESSES=$NUM_PROCESSES" \
    "ANIMEJAX_PROCESS_ID=$1" \
    "JAX_PLATFORMS=cpu" \
    "XLA_FLAGS=--xla_force_host_platform_device_count=$CPU_DEVICES"
}

if [[ "$DRY_RUN" == 1 ]]; then
  for ((i = 0; i < NUM_PROCESSES; i++)); do
    redirect=""
    ((i == 0)) || redirect=" > $LOG_DIR/process_$i.log 2>&1"
    # shellcheck disable=SC2046  # env_for prints one word per variable
    echo "$(print_cmd env $(env_for "$i") "${cmd[@]}")$redirect &"
  done
  echo "wait  # fails if any process fails"
  exit 0
fi

mkdir -p "$LOG_DIR"
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
}
trap cleanup INT TERM

for ((i = 0; i < NUM_PROCESSES; i++)); do
  # shellcheck disable=SC2046  # env_for prints one word per variable
  if ((i == 0)); then
    env $(env_for "$i") "${cmd[@]}" &
  else
    env $(env_for "$i") "${cmd[@]}" > "$LOG_DIR/process_$i.log" 2>&1 &
  fi
  pids+=("$!")
done
echo "local.sh: started $NUM_PROCESSES processes (pids ${pids[*]}), coordinator 127.0.0.1:$PORT, logs of 1..$((NUM_PROCESSES - 1)) in $LOG_DIR" >&2

# Poll rather than `wait -n`: portable to bash 3.2 (macOS) and it lets us
# collect each exit status exactly once.
status=0
live=("${pids[@]}")
while ((${#live[@]})); do
  still=()
  for p in "${live[@]}"; do
    if kill -0 "$p" 2>/dev/null; then
      still+=("$p")
      continue
    fi
    rc=0
    wait "$p" || rc=$?
    if ((rc != 0)); then
      echo "local.sh: process with pid $p exited with status $rc; stopping the others (logs in $LOG_DIR)" >&2
      status=$rc
    fi
  done
  if ((status != 0)); then
    cleanup
    wait || true
    break
  fi
  live=("${still[@]+"${still[@]}"}")
  ((${#live[@]} == 0)) || sleep 1
done
exit "$status"
