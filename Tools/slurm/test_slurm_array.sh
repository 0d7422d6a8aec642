#!/usr/bin/env bash
# Runs a MedVox batch as a real Slurm job array on a single-node cluster started on this machine
# (Debian's slurm-wlm: slurmctld + slurmd on localhost, munge for authentication), merges the
# shards, and checks that the merged summary and every mask equal a single-machine run's.
#
#   bash Tools/slurm/test_slurm_array.sh [MEDVOX_BINARY]
#
# Needs root (it starts munged, slurmctld and slurmd), Debian's slurm-wlm and munge, and the test
# oracles' Python ($MEDVOX_PYTHON, default .venv/bin/python3); Tools/setup.sh installs the last two.
# Prints "N passed, M failed" at the end; exit status 0 only when all checks passed.
set -euo pipefail
cd "$(dirname "$0")/../.."
MEDVOX=$(readlink -f "${1:-.build/release/medvox}")
test -x "$MEDVOX" || { echo "no medvox binary at $MEDVOX (build first)"; exit 1; }
for tool in slurmctld slurmd sbatch munged; do
    command -v "$tool" >/dev/null || { echo "no $tool on PATH (slurm-wlm and munge: run Tools/setup.sh)"; exit 1; }
done
PYTHON=${MEDVOX_PYTHON:-$PWD/.venv/bin/python3}
command -v "$PYTHON" >/dev/null || { echo "no Python for the test oracles at $PYTHON (run Tools/setup.sh, or set MEDVOX_PYTHON)"; exit 1; }
WORK=$(mktemp -d /tmp/medvox-slurm.XXXXXX)
CONF=$WORK/slurm.conf
pids=()
cleanup() {
    scancel --quiet --user=root 2>/dev/null || true
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 1
    rm -rf "$WORK"
}
trap cleanup EXIT

# munge: a key of our own and a daemon on a private socket.
mkdir -p "$WORK/munge"
mungekey --create --keyfile "$WORK/munge/munge.key" --force >/dev/null 2>&1 || dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 2>/dev/null
chmod 600 "$WORK/munge/munge.key"
munged --key-file="$WORK/munge/munge.key" --socket="$WORK/munge/socket" --pid-file="$WORK/munge/pid" \
    --log-file="$WORK/munge/log" --seed-file="$WORK/munge/seed" --force
sleep 1
pids+=("$(cat "$WORK/munge/pid")")

CPUS=$(nproc)
MEM=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
mkdir -p "$WORK/spool" "$WORK/state"
cat > "$CONF" <<CONF
ClusterName=medvoxtest
SlurmctldHost=localhost
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$WORK/munge/socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/slurmctld.pid
SlurmdPidFile=$WORK/slurmd.pid
SlurmctldLogFile=$WORK/slurmctld.log
SlurmdLogFile=$WORK/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
NodeName=localhost CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=test Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$CONF
slurmctld -f "$CONF"
slurmd -f "$CONF"
sleep 2
pids+=("$(cat "$WORK/slurmctld.pid")" "$(cat "$WORK/slurmd.pid")")
for _ in $(seq 30); do sinfo -h -o %T 2>/dev/null | grep -qE 'idle|mixed' && break; sleep 1; done
sinfo

# A study: DICOM series in nested folders, NIfTI files, a corrupted file, a text file.
STUDY=$WORK/study
mkdir -p "$STUDY/s1/a" "$STUDY/s1/b" "$STUDY/s2" "$STUDY/nifti"
cp Fixtures/dicom/mr/IM0001.dcm Fixtures/dicom/mr/IM0002.dcm "$STUDY/s1/a/"
cp Fixtures/dicom/mr/IM0003.dcm Fixtures/dicom/mr/IM0004.dcm "$STUDY/s1/b/"
cp Fixtures/dicom/ct/*.dcm "$STUDY/s2/"
cp Fixtures/example/head.nii.gz "$STUDY/nifti/head.nii.gz"
cp Fixtures/dicom/oblique/*.dcm "$STUDY/s2/" 2>/dev/null || true
head -c 500 /dev/urandom > "$STUDY/nifti/broken.nii.gz"
echo notes > "$STUDY/notes.txt"

# A small model trained here, in seconds, from the example's label map.
"$MEDVOX" train --task segment --synth-from Fixtures/example/head_labels.nii.gz -o "$WORK/tiny" \
    --classes 3 --features 4,8 --patch 16,16,16 --spacing 4 --steps 4 --batch 1 --quiet >/dev/null

passed=0; failed=0
check() { local what=$1; shift; if "$@"; then passed=$((passed + 1)); echo "ok: $what"; else failed=$((failed + 1)); echo "FAILED: $what"; fi; }

# Single-machine reference run (exit 1: the corrupted file fails, as it should).
"$MEDVOX" batch "$STUDY" -o "$WORK/single" --segment "$WORK/tiny.json" --quiet || true

# The job array: 3 shards.
JOB=$(sbatch --parsable --array=0-2 --output="$WORK/array-%a.log" --chdir="$WORK" \
    --wrap="$MEDVOX batch $STUDY -o $WORK/array --segment $WORK/tiny.json --threads 1 --quiet")
echo "submitted array job $JOB"
for _ in $(seq 300); do
    [ -z "$(squeue -h -j "$JOB" 2>/dev/null)" ] && break
    sleep 1
done
check "the array finished" test -z "$(squeue -h -j "$JOB" 2>/dev/null)"
for a in 0 1 2; do check "shard $a ran" grep -q "index.html" "$WORK/array-$a.log"; done
"$MEDVOX" batch --merge "$WORK/array" || true

strip() { "$PYTHON" -c '
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
for r in rows: r.pop("seconds", None)
print(sorted(tuple(sorted(r.items())) for r in rows))' "$1"; }
check "merged summary equals the single-machine summary" test "$(strip "$WORK/single/summary.csv")" = "$(strip "$WORK/array/summary.csv")"
check "same case folders" test "$(ls "$WORK/single" | grep -v summary | grep -v index)" = "$(ls "$WORK/array" | grep -v summary | grep -v index)"
same_masks=true
for m in "$WORK"/single/*/mask.nii.gz; do
    c=$(basename "$(dirname "$m")")
    cmp -s <(gzip -dc "$m") <(gzip -dc "$WORK/array/$c/mask.nii.gz") || same_masks=false
done
check "identical masks" $same_masks
check "the corrupted file is reported" grep -q "nifti_broken,.*,failed," "$WORK/array/summary.csv"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
