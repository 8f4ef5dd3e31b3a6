#!/usr/bin/env bash
# Installs the Debian 12 packages libi2igalip needs that are not yet present.
#   tools/setup-debian.sh build   -> to build the library, the tool and run the demo
#   tools/setup-debian.sh test    -> also what the tests need (PyTorch reference, scikit-image, ...)
#   tools/setup-debian.sh train-demo -> build, plus PyTorch for the stand-in encoder (tools/train-demo.sh)
set -euo pipefail

build_pkgs=(gcc pkg-config meson ninja-build libdnnl-dev libtiff-dev libstb-dev zlib1g-dev libutf8proc-dev)
test_pkgs=(check python3 python3-numpy python3-torch python3-skimage python3-tifffile python3-pil
           libopenblas0-pthread clang libclang-rt-14-dev libomp-14-dev abigail-tools valgrind
           doxygen python3-matplotlib python3-venv python3-pip python3-setuptools python3-wheel)

want=("${build_pkgs[@]}")
[ "${1:-build}" = test ] && want+=("${test_pkgs[@]}")
[ "${1:-build}" = train-demo ] && want+=(python3 python3-numpy python3-torch)

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup-debian: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
