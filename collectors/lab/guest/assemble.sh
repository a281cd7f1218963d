#!/bin/sh
# Re-assemble every payload: run from this directory (go generate does).
set -e
command -v nasm >/dev/null || { echo "assemble.sh: nasm is not installed: apt-get install -y nasm" >&2; exit 1; }
for f in *.asm; do
	nasm -f bin -o "${f%.asm}.bin" "$f"
done
