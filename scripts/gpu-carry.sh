#!/usr/bin/env bash
# Prepares .gl/, what scripts/gpu-check.sh needs carried to a bare GPU machine besides the binaries:
# the Vulkan loader and validation-layer debs (downloaded for amd64 as the device README says), and in
# .gl/lib the shared libraries the binaries link that such a machine may lack (utf8proc, pcre2,
# cpp-httplib with its ssl/brotli, ...; the C library itself excepted), plus the X11 libraries NVIDIA's
# Vulkan driver (libGLX_nvidia) loads. gpu-check.sh links only those the machine lacks.
# Then prints the `carry` list and its size (the device tool carries 64 MiB at most).
#   scripts/gpu-carry.sh [BUILD_DIR]     (default build/)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
for f in "$B/r1vk" "$B/tests/r1vk_gpu_tests"; do
  [[ -x $f ]] || { echo "gpu-carry: $f is missing: build first (scripts/build.sh)"; exit 2; }
done
grep -qx '/.gl/' .gitignore 2>/dev/null || grep -qx '/.gl/' .git/info/exclude 2>/dev/null ||
  echo /.gl/ >> .git/info/exclude
mkdir -p .gl/lib
if ! compgen -G ".gl/libvulkan1_*.deb" >/dev/null || ! compgen -G ".gl/vulkan-validationlayers_*.deb" >/dev/null; then
  lists=$(mktemp -d)
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
  mkdir -p "$lists/partial"
  apt-get "${o[@]}" update >/dev/null
  (cd .gl && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 \
     vulkan-validationlayers)
  rm -rf "$lists"
fi
# The binaries' libraries, by soname, resolved to files (cp -L); glibc's and the compiler runtime's stay.
skip='^(libc|libm|libdl|libpthread|librt|ld-linux-x86-64|libgcc_s|linux-vdso)\.so'
ldd "$B/r1vk" "$B/tests/r1vk_gpu_tests" | awk '/=> \//{print $1" "$3}' | sort -u |
  while read -r name path; do
    [[ $name =~ $skip ]] && continue
    cp -L "$path" ".gl/lib/$name"
  done
for name in libX11.so.6 libXext.so.6 libxcb.so.1 libXau.so.6 libXdmcp.so.6 libbsd.so.0 libmd.so.0; do
  path=$(ldconfig -p | awk -v n="$name" '$1 == n && /x86-64/ {print $NF; exit}')
  [[ -n $path ]] && cp -L "$path" ".gl/lib/$name"
done
ls .gl .gl/lib
carry=("$B/r1vk" "$B/tests/r1vk_gpu_tests" "$B/tests/models" "$B/CMakeCache.txt" .gl)
echo "carry: ${carry[*]}"
du -csh "${carry[@]}" | tail -1
