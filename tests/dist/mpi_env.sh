# Sourced by the MPI tests: mpirun as root, more ranks than cores, shared-memory transfers that
# need no ptrace permission (containers often lack it), and (when the binary is built with
# AddressSanitizer) LeakSanitizer told about OpenMPI's own allocations: its plugins are dlclose'd
# before exit, so their frames only resolve with the slow unwinder. A machine where mpirun cannot
# start two processes at all skips (exit 77) with mpirun's own words, rather than failing.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
_dsv4_scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts" && pwd)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=$_dsv4_scripts/lsan_mpi.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
if ! _out=$(timeout 60 "${MPIRUN:-mpirun}" --oversubscribe -np 2 true 2>&1); then
  echo "SKIP: mpirun cannot start 2 processes on this machine:"
  echo "$_out" | head -20
  exit 77
fi
