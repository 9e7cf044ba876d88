#!/bin/bash
# Runs on the machine, in a network namespace, a mount namespace and a bpffs of its own, with
# the .rpm installed into the empty root $1: its binary, run from there, does what a user does
# first. ip and ping are the machine's; the root holds nothing but the package.
set -euo pipefail
root=$1
feth="$root/usr/bin/feth-loader"
step() { echo "rpm test: $*" >&2; }
has() { local out; out=$("${@:2}"); grep -q -- "$1" <<<"$out"; }

step "the root holds only the package: no libc, no shell"
test ! -e "$root/lib64/libc.so.6" && test ! -e "$root/usr/lib64/libc.so.6" && test ! -e "$root/bin/sh"
step "feth-loader --version"
"$feth" --version | grep -E '^feth-loader [0-9.]+ \(commit [0-9a-f]+.*, eBPF object [0-9a-f]{16}\)$'
step "man page and unit"
zcat "$root/usr/share/man/man1/feth-loader-peer.1.gz" | grep -q 'Cross two feth interfaces over'
grep -q '^ExecStart=/usr/bin/feth-loader' "$root/usr/lib/systemd/system/feth-loader-apply.service"

step "up, ping across, down"
"$feth" up feth0 feth1 --netns-a rpm-a --netns-b rpm-b
ip -n rpm-a addr add 198.18.0.1/24 dev feth0
ip -n rpm-b addr add 198.18.0.2/24 dev feth1
ip -n rpm-a link set feth0 up
ip -n rpm-b link set feth1 up
# -w: keep trying until a reply or 10 s (a bounded wait for carrier and neighbour discovery).
ip netns exec rpm-a ping -c 1 -w 10 -q 198.18.0.2
has 'peer feth1' "$feth" show feth0
"$feth" down feth0 feth1
if ip -n rpm-a link show feth0 2>/dev/null; then
    echo "feth0 is still there after down" >&2
    exit 1
fi
ip netns del rpm-a
ip netns del rpm-b
step "all passed"
