#!/usr/bin/env bash
# Submits an animejax training run to a SLURM GPU cluster: one JAX process per
# GPU (default) or per node, all joined by jax.distributed.
#
# Usage (on the login node, from the repository root, in the environment
# where `pip install -e '.[gpu]'` was done):
#   NODES=2 GPUS_PER_NODE=8 CONFIG=configs/shinkai.py WORKDIR=/shared/runs/shinkai \
#     launch/slurm_gpu.sh [--dry-run] [-- extra main.py flags]
#
# It writes $WORKDIR/slurm/animejax.sbatch and runs `sbatch` on it. The batch
# script takes the first host of SLURM_JOB_NODELIST as coordinator
# (ANIMEJAX_COORDINATOR=<host>:$PORT) and starts every process with
#   srun ... python3 -m animejax.main --config=$CONFIG --workdir=$WORKDIR [flags]
# where each task sets ANIMEJAX_PROCESS_ID=$SLURM_PROCID (and, one process
# per GPU, ANIMEJAX_LOCAL_DEVICE_IDS=$SLURM_LOCALID) for
# animejax.distributed.maybe_initialize. WORKDIR must be on a file system all
# nodes share.
#
# Required: NODES, GPUS_PER_NODE, CONFIG, WORKDIR.
# Optional: PROCESS_PER=gpu|node (default gpu), PORT (default 29500 +
#           job id % 1000), PARTITION, ACCOUNT, TIME (default 24:00:00),
#           CPUS_PER_TASK (default 8), JOB_NAME (default animejax-<config>),
#           PYTHON (default python3), SETUP (shell lines run before srun, e.g.
#           "module load cuda; source venv/bin/activate"),
#           DRY_RUN=1 (or --dry-run: print the batch script and the sbatch
#           command, write and submit nothing).
# The batch script's lines are written with single quotes on purpose: its
# $SLURM_* variables must expand on the compute nodes, not here.
# shellcheck disable=SC2016
set -euo pipefail

# shellcheck source=launch/common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DRY_RUN="${DRY_RUN:-0}"
extra=()
while (($#)); do
  case "$1" in
    --dry-run) DRY_RUN=1; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (main.py flags go after --)" ;;
  esac
done

missing=()
for v in NODES GPUS_PER_NODE CONFIG WORKDIR; do
  [[ -n "${!v:-}" ]] || missing+=("$v")
done
((${#missing[@]} == 0)) || die "set ${missing[*]} (see the header of $0 for an example)"
[[ "$NODES" =~ ^[1-9][0-9]*$ ]] || die "NODES='$NODES' must be a positive integer"
[[ "$GPUS_PER_NODE" =~ ^[1-9][0-9]*$ ]] || die "GPUS_PER_NODE='$GPUS_PER_NODE' must be a positive integer"
[[ -f "$CONFIG" ]] || die "CONFIG='$CONFIG' is not a file (run from the repository root, e.g. CONFIG=configs/shinkai.py)"
PROCESS_PER="${PROCESS_PER:-gpu}"
case "$PROCESS_PER" in
  gpu) tasks_per_node=$GPUS_PER_NODE ;;
  node) tasks_per_node=1 ;;
  *) die "PROCESS_PER='$PROCESS_PER' must be 'gpu' or 'node'" ;;
esac
if [[ -n "${PORT:-}" ]] && ! [[ "$PORT" =~ ^[0-9]+$ ]]; then
  die "PORT='$PORT' must be a TCP port number"
fi

TIME="${TIME:-24:00:00}"
CPUS_PER_TASK="${CPUS_PER_TASK:-8}"
JOB_NAME="${JOB_NAME:-animejax-$(basename "$CONFIG" .py)}"
PYTHON="${PYTHON:-python3}"
SLURM_DIR="$WORKDIR/slurm"
SCRIPT="$SLURM_DIR/animejax.sbatch"

train=("$PYTHON" -m animejax.main "--config=$CONFIG" "--workdir=$WORKDIR" "${extra[@]+"${extra[@]}"}")
if [[ "$PROCESS_PER" == gpu ]]; then
  # One GPU per process: process i on a node uses local GPU $SLURM_LOCALID.
  task_env='export ANIMEJAX_PROCESS_ID=$SLURM_PROCID ANIMEJAX_LOCAL_DEVICE_IDS=$SLURM_LOCALID; exec "$@"'
else
  # One process per node driving all its GPUs.
  ids=$(seq -s, 0 $((GPUS_PER_NODE - 1)))
  task_env="export ANIMEJAX_PROCESS_ID=\$SLURM_PROCID ANIMEJAX_LOCAL_DEVICE_IDS=$ids; exec \"\$@\""
fi
srun_cmd=(srun --kill-on-bad-exit=1 bash -c "$task_env" animejax-task "${train[@]}")

batch_script() {
  echo "#!/usr/bin/env bash"
  echo "#SBATCH --job-name=$JOB_NAME"
  echo "#SBATCH --nodes=$NODES"
  echo "#SBATCH --ntasks-per-node=$tasks_per_node"
  echo "#SBATCH --gpus-per-node=$GPUS_PER_NODE"
  echo "#SBATCH --cpus-per-task=$CPUS_PER_TASK"
  echo "#SBATCH --time=$TIME"
  echo "#SBATCH --output=$SLURM_DIR/%j.out"
  [[ -z "${PARTITION:-}" ]] || echo "#SBATCH --partition=$PARTITION"
  [[ -z "${ACCOUNT:-}" ]] || echo "#SBATCH --account=$ACCOUNT"
  echo "# shellcheck disable=SC2016  # \$SLURM_* expand inside each srun task"
  echo "set -euo pipefail"
  echo "cd $(print_cmd "$PWD")"
  [[ -z "${SETUP:-}" ]] || echo "$SETUP"
  echo '# Coordinator: process 0 runs on the first host of the allocation.'
  echo '# sed reads the whole list; "head -n 1" would exit early, scontrol would'
  echo '# die of SIGPIPE on a long list and pipefail would fail the job (141).'
  echo 'head_host=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | sed -n 1p)'
  if [[ -n "${PORT:-}" ]]; then
    echo "export ANIMEJAX_COORDINATOR=\"\$head_host:$PORT\""
  else
    echo 'export ANIMEJAX_COORDINATOR="$head_host:$((29500 + SLURM_JOB_ID % 1000))"'
  fi
  echo 'export ANIMEJAX_NUM_PROCESSES=$SLURM_NTASKS'
  print_cmd "${srun_cmd[@]}"
}

if [[ "$DRY_RUN" == 1 ]]; then
  echo "# $SCRIPT:"
  batch_script
  echo "# submit:"
  print_cmd sbatch "$SCRIPT"
  exit 0
fi
mkdir -p "$SLURM_DIR"
batch_script > "$SCRIPT"
echo "slurm_gpu.sh: wrote $SCRIPT" >&2
sbatch "$SCRIPT"
