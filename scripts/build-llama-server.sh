#!/usr/bin/env bash
# Builds llama.cpp's llama-server (CPU only) from the llama.cpp source that node-llama-cpp's npm
# package carries, once per llama.cpp commit, into a cache outside the checkout. Prints the path
# of the binary. The tests serve the test model with it; about 9 minutes on 2 cores when missing.
#
#   YIZHI_LLAMA_SERVER_CACHE  where builds are kept (default: ${XDG_CACHE_HOME:-~/.cache}/yizhi/llama-server)
set -euo pipefail
cd "$(dirname "$0")/.."

bundle=node_modules/node-llama-cpp/llama/gitRelease.bundle
if [ ! -f "$bundle" ]; then
    echo "$bundle is missing: run npm ci first." >&2
    exit 1
fi
commit=$(git bundle list-heads "$bundle" | awk '$2 == "HEAD" { print $1 }')
cache=${YIZHI_LLAMA_SERVER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/yizhi/llama-server}
target="$cache/$commit"
binary="$target/llama-server"
if [ -x "$binary" ]; then
    echo "$binary"
    exit 0
fi

echo "Building llama-server from llama.cpp ${commit:0:12} into $target (about 9 minutes on 2 cores)..." >&2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone -q "$bundle" "$work/llama.cpp" >&2
cmake -S "$work/llama.cpp" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DGGML_NATIVE=OFF >"$work/configure.log" 2>&1 || { cat "$work/configure.log" >&2; exit 1; }
cmake --build "$work/build" -t llama-server -j "$(nproc)" >"$work/build.log" 2>&1 || { tail -50 "$work/build.log" >&2; exit 1; }
mkdir -p "$target.partial"
cp "$work/build/bin/llama-server" "$target.partial/"
rm -rf "$target"
mv "$target.partial" "$target"
echo "$binary"
