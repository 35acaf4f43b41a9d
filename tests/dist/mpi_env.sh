# Sourced by the MPI tests: mpirun as root, more ranks than cores, and (when the binary is built
# with AddressSanitizer) LeakSanitizer told about OpenMPI's own allocations. Its plugins are
# dlclose'd before exit, so their frames only resolve with the slow unwinder.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
_dsv4_scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts" && pwd)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export LSAN_OPTIONS="suppressions=$_dsv4_scripts/lsan_mpi.supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
