#!/usr/bin/env bash
# Run here, before a GPU check on a lent device machine: copies the Debian libraries that
# trelbo's build and tests need and that the device's image may lack (cmocka; OpenBLAS's OpenMP
# build with its cblas.h and the Fortran runtime it links) into .devdeps/ (git-ignored), the
# largest one gzipped so that the working tree and it stay under the device tool's 64 MiB.
# scripts/gpu-check.sh uses .devdeps/ when it is there and the system lacks the library. The
# call that runs the check names it in `carry`:
#   run(command="scripts/gpu-check.sh", carry=[".devdeps"], timeout_s=600)
# The libraries come from Debian 12 (glibc 2.36); a newer glibc on the device runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
arch=$(gcc -print-multiarch)
out=.devdeps
rm -rf "$out"
mkdir -p "$out/include" "$out/lib"

cp /usr/include/cmocka.h /usr/include/cmocka_pbc.h "$out/include/"
cp -L "/usr/lib/$arch/libcmocka.so.0" "$out/lib/"
ln -s libcmocka.so.0 "$out/lib/libcmocka.so"

blas=/usr/lib/$arch/openblas-openmp
cp "/usr/include/$arch/openblas-openmp/cblas.h" "/usr/include/$arch/openblas-openmp/openblas_config.h" \
  "$out/include/"
gzip -c "$(readlink -f "$blas/libopenblas.so.0")" >"$out/lib/libopenblas.so.0.gz"
for lib in libgfortran.so.5 libquadmath.so.0; do
  cp -L "/lib/$arch/$lib" "$out/lib/"
done
du -sh "$out"
echo "wrote $out: name it in the device call's carry"
