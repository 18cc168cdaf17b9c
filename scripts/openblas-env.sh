# Sourced by the benchmark scripts, with a binary linked to trelbo as $1: when OpenBLAS's own
# CPU detection does not know this CPU and falls back to its generic Prescott (SSE3) kernels,
# picks the kernels the CPU can run instead, through OPENBLAS_CORETYPE (read when the library
# loads, so it must be set before the benchmark starts). Measured on a 2-core Xeon VM that
# Debian 12's OpenBLAS 0.3.21 calls Prescott: sgemm 55 GFLOP/s, 220 with SkylakeX's kernels.
# A value already in the environment is kept.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
    _core=$(OPENBLAS_VERBOSE=2 "$1" --help 2>&1 >/dev/null | sed -n 's/^Core: //p' | head -n 1)
    if [ "$_core" = Prescott ]; then
        _flags=$(grep -m 1 '^flags' /proc/cpuinfo 2>/dev/null || true)
        _has() { case " $_flags " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
        if _has avx512f && _has avx512bw && _has avx512dq && _has avx512vl; then
            export OPENBLAS_CORETYPE=SkylakeX
        elif _has avx2 && _has fma; then
            export OPENBLAS_CORETYPE=Haswell
        fi
        [ -n "${OPENBLAS_CORETYPE:-}" ] &&
            echo "OpenBLAS took this CPU for Prescott; using its $OPENBLAS_CORETYPE kernels (OPENBLAS_CORETYPE)" >&2
        unset -f _has
        unset _flags
    fi
    unset _core
fi
