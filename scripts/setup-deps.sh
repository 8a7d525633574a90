#!/usr/bin/env bash
# Installs every Debian package r1vk needs to build, run and test. Idempotent and quiet: when all
# packages are present it does nothing; otherwise it runs `apt-get update` once and installs the rest.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libvulkan-dev libvulkan-volk-dev glslang-tools spirv-tools
  mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
  libglfw3-dev libimgui-dev libgtest-dev
  libfontconfig-dev fonts-dejavu-core fonts-noto-cjk libstb-dev
  nlohmann-json3-dev libpcre2-dev libutf8proc-dev libcpp-httplib-dev libedit-dev
  python3 python3-dev python3-numpy python3-jinja2 python3-regex
  nodejs npm
  xvfb
  # issue G: clang + its runtimes for the libFuzzer targets (scripts/fuzz.sh); the ASan/UBSan/TSan
  # builds use gcc, whose sanitizer runtimes (libasan8, libubsan1, libtsan2) come with build-essential.
  clang libclang-rt-14-dev
)
# Only tools/train_demo.py needs torch; the tests never do. `R1VK_WITH_TORCH=1 scripts/setup-deps.sh`.
if [[ "${R1VK_WITH_TORCH:-0}" == 1 ]]; then PACKAGES+=(python3-torch libopenblas0-pthread); fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm from nodesource or nvm counts as present even without the Debian package.
if command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
read -r -a missing <<<"${missing[*]:-}"
((${#missing[@]} == 0)) && exit 0

SUDO=""
if [[ $(id -u) != 0 ]]; then SUDO="sudo"; fi
echo "setup-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
