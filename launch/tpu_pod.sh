#!/usr/bin/env bash
# Trains animejax on a Cloud TPU VM slice (one or many hosts), data and
# workdir on Google Cloud Storage.
#
# Usage:
#   TPU_NAME=animejax-v4 ZONE=us-central2-b ACCELERATOR_TYPE=v4-32 \
#   BUCKET=gs://my-bucket CONFIG=configs/shinkai.py \
#     launch/tpu_pod.sh [--dry-run] [all|create|install|train|delete] [-- extra main.py flags]
#
# Stages (default `all` = create + install + train):
#   create   reuse the TPU VM if `gcloud compute tpus tpu-vm describe` finds it,
#            otherwise `gcloud compute tpus tpu-vm create` it.
#   install  copy this checkout (`git archive HEAD`, so commit first) to every
#            worker with `tpu-vm scp --worker=all` and `pip install -e '.[tpu]'`
#            there; with REPO_URL set, `git clone` it on every worker instead.
#   train    run the same command on all workers (`tpu-vm ssh --worker=all`):
#              ANIMEJAX_DISTRIBUTED=1 python3 -m animejax.main --config=$CONFIG
#                --workdir=$BUCKET/runs/$RUN_NAME
#                --config.data.tfds_data_dir=$BUCKET/tensorflow_datasets [flags]
#            ANIMEJAX_DISTRIBUTED=1 makes animejax.distributed call
#            jax.distributed.initialize(), which finds the other workers
#            through the TPU metadata server.
#   delete   delete the TPU VM.
#
# Required: TPU_NAME, ZONE, ACCELERATOR_TYPE (e.g. v4-8, v4-32, v5litepod-16),
#           BUCKET (gs://...), CONFIG (a config file in this repository).
# Optional: PROJECT (default: gcloud's), RUNTIME_VERSION (default
#           tpu-ubuntu2204-base), RUN_NAME (default: config file name),
#           DATA_DIR (default $BUCKET/tensorflow_datasets; prepare the AnimeGAN
#           data there once with the TFDS builder), WORKDIR (default
#           $BUCKET/runs/$RUN_NAME), REPO_URL / REPO_REF (git clone instead of
#           copying this checkout), SPOT=1 (spot VM), DRY_RUN=1 (or --dry-run:
#           print every gcloud command instead of running it).
set -euo pipefail

# shellcheck source=launch/common.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

run() {
  if [[ "$DRY_RUN" == 1 ]]; then
    print_cmd "$@"
  else
    echo "+ $(print_cmd "$@")" >&2
    "$@"
  fi
}

DRY_RUN="${DRY_RUN:-0}"
STAGE=all
extra=()
while (($#)); do
  case "$1" in
    --dry-run) DRY_RUN=1; shift ;;
    all|create|install|train|delete) STAGE="$1"; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,37p' "$0"; exit 0 ;;
    *) die "unknown argument '$1' (stages: all, create, install, train, delete; main.py flags go after --)" ;;
  esac
done

missing=()
for v in TPU_NAME ZONE ACCELERATOR_TYPE BUCKET CONFIG; do
  [[ -n "${!v:-}" ]] || missing+=("$v")
done
((${#missing[@]} == 0)) || die "set ${missing[*]} (see the header of $0 for an example)"
[[ "$BUCKET" == gs://* ]] || die "BUCKET='$BUCKET' must be a gs:// URL (TPU workers share data and checkpoints through GCS)"
BUCKET="${BUCKET%/}"
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ "$STAGE" != delete && ! -f "$REPO_ROOT/$CONFIG" ]]; then
  die "CONFIG='$CONFIG' is not a file; give a path relative to the repository root (e.g. configs/shinkai.py)"
fi

RUNTIME_VERSION="${RUNTIME_VERSION:-tpu-ubuntu2204-base}"
RUN_NAME="${RUN_NAME:-$(basename "$CONFIG" .py)}"
DATA_DIR="${DATA_DIR:-$BUCKET/tensorflow_datasets}"
WORKDIR="${WORKDIR:-$BUCKET/runs/$RUN_NAME}"
REMOTE_DIR=animejax
gcloud_tpu=(gcloud compute tpus tpu-vm)
where=("--zone=$ZONE")
[[ -z "${PROJECT:-}" ]] || where+=("--project=$PROJECT")

stage_create() {
  local create=("${gcloud_tpu[@]}" create "$TPU_NAME" "${where[@]}"
    "--accelerator-type=$ACCELERATOR_TYPE" "--version=$RUNTIME_VERSION")
  [[ "${SPOT:-0}" != 1 ]] || create+=(--spot)
  if [[ "$DRY_RUN" == 1 ]]; then
    print_cmd "${gcloud_tpu[@]}" describe "$TPU_NAME" "${where[@]}" '--format=value(state)'
    echo "# only if describe finds no such TPU VM:"
    print_cmd "${create[@]}"
    return
  fi
  local state
  if state=$("${gcloud_tpu[@]}" describe "$TPU_NAME" "${where[@]}" '--format=value(state)' 2>/dev/null); then
    echo "tpu_pod.sh: reusing TPU VM $TPU_NAME (state $state)" >&2
  else
    run "${create[@]}"
  fi
}

stage_install() {
  local setup="set -e; rm -rf $REMOTE_DIR"
  if [[ -n "${REPO_URL:-}" ]]; then
    setup+="; git clone --quiet $REPO_URL $REMOTE_DIR"
    [[ -z "${REPO_REF:-}" ]] || setup+="; git -C $REMOTE_DIR checkout --quiet $REPO_REF"
  else
    local tarball=/tmp/animejax-src.tar.gz
    run git -C "$REPO_ROOT" archive --format=tar.gz -o "$tarball" HEAD
    run "${gcloud_tpu[@]}" scp "$tarball" "$TPU_NAME:animejax-src.tar.gz" "${where[@]}" --worker=all
    setup+="; mkdir -p $REMOTE_DIR; tar -xzf animejax-src.tar.gz -C $REMOTE_DIR"
  fi
  setup+="; cd $REMOTE_DIR && python3 -m pip install --quiet -e \".[tpu]\""
  run "${gcloud_tpu[@]}" ssh "$TPU_NAME" "${where[@]}" --worker=all "--command=$setup"
}

stage_train() {
  local train=(python3 -m animejax.main "--config=$CONFIG" "--workdir=$WORKDIR"
    "--config.data.tfds_data_dir=$DATA_DIR" "${extra[@]+"${extra[@]}"}")
  local remote
  remote="cd $REMOTE_DIR && ANIMEJAX_DISTRIBUTED=1 $(print_cmd "${train[@]}")"
  run "${gcloud_tpu[@]}" ssh "$TPU_NAME" "${where[@]}" --worker=all "--command=$remote"
}

stage_delete() {
  run "${gcloud_tpu[@]}" delete "$TPU_NAME" "${where[@]}" --quiet
}

case "$STAGE" in
  all) stage_create; stage_install; stage_train ;;
  create) stage_create ;;
  install) stage_install ;;
  train) stage_train ;;
  delete) stage_delete ;;
esac
