#!/bin/bash
# Runs inside a clean Debian root (11, 12 or 13) where the package was installed with apt-get, in
# a network namespace, a mount namespace and a bpffs of its own: what a user does first with the
# package.
set -euo pipefail
step() { echo "package test: $*" >&2; }
# PATTERN COMMAND...: COMMAND's whole output matches PATTERN (grep -q reading a pipe would stop
# early and, under pipefail, fail the command with SIGPIPE).
has() { local out; out=$("${@:2}"); grep -q -- "$1" <<<"$out"; }

step "feth-loader --version"
feth-loader --version | grep -E '^feth-loader [0-9.]+ \(commit [0-9a-f]+.*, eBPF object [0-9a-f]{16}\)$'

step "man pages"
for page in feth-loader feth-loader-peer feth-loader-impair feth-loader-stats; do
    MANWIDTH=100 man -P cat "$page" > "/tmp/$page.txt"
done
grep -q 'Cross two feth interfaces over' /tmp/feth-loader-peer.txt
grep -q 'EXIT STATUS' /tmp/feth-loader.txt
grep -q 'refused: a bad argument' /tmp/feth-loader.txt

step "bash completion"
# As bash-completion loads it on demand: source the file, then call the function it registers.
source /usr/share/bash-completion/completions/feth-loader
fn=$(complete -p feth-loader | sed -E 's/.* -F ([^ ]+) .*/\1/')
COMP_WORDS=(feth-loader pe); COMP_CWORD=1; COMP_LINE="feth-loader pe"; COMP_POINT=${#COMP_LINE}
"$fn" feth-loader pe feth-loader
printf '%s\n' "${COMPREPLY[@]}" | grep -qx peer
COMP_WORDS=(feth-loader impair feth0 --lo); COMP_CWORD=3; COMP_LINE="feth-loader impair feth0 --lo"
COMP_POINT=${#COMP_LINE}
"$fn" feth-loader --lo feth0
printf '%s\n' "${COMPREPLY[@]}" | grep -qx -- --loss-every
test -s /usr/share/zsh/vendor-completions/_feth-loader
test -s /usr/share/fish/vendor_completions.d/feth-loader.fish

step "the systemd unit's command, twice (the second changes nothing)"
unit=/lib/systemd/system/feth-loader-apply.service
test -s "$unit"
start=$(sed -n 's/^ExecStart=//p' "$unit")
mkdir -p /etc/feth
printf '[interface.unit0]\nnetns = "pkg-u"\n[interface.unit1]\nnetns = "pkg-u"\n[[peer]]\na = "unit0"\nb = "unit1"\n' \
    > /etc/feth/topology.toml
has 'peer unit0 unit1' $start
has '^nothing to change$' $start
has LOWER_UP ip -n pkg-u link show unit0
feth-loader down unit0 unit1

step "up, ping across, down"
feth-loader up feth0 feth1 --netns-a pkg-a --netns-b pkg-b
ip -n pkg-a addr add 198.18.0.1/24 dev feth0
ip -n pkg-b addr add 198.18.0.2/24 dev feth1
ip -n pkg-a link set feth0 up
ip -n pkg-b link set feth1 up
# -w: keep trying until a reply or 10 s (a bounded wait for carrier and neighbour discovery).
ip netns exec pkg-a ping -c 1 -w 10 -q 198.18.0.2
has 'peer feth1' feth-loader show feth0
feth-loader down feth0 feth1
if ip -n pkg-a link show feth0 2>/dev/null; then
    echo "feth0 is still there after down" >&2
    exit 1
fi
step "the shipped binary has no test hooks: FETH_FAULT is ignored"
# In the test build, create:veth-made kills the command after it made the veth pair.
FETH_FAULT=create:veth-made feth-loader create fault0 --netns pkg-f
has fault0 feth-loader show fault0
feth-loader destroy fault0

step "the package asks for nothing: the binary is static"
deps=$(dpkg-query -W -f='${Depends}${Pre-Depends}${Recommends}' feth-loader)
if [ -n "$deps" ]; then
    echo "the package depends on: $deps" >&2
    exit 1
fi

step "impair --rate without iproute2's tc (the qdisc is made over netlink)"
feth-loader up rate0 rate1 --netns-a pkg-r --netns-b pkg-s
mv /usr/sbin/tc /usr/sbin/tc.away
PATH=/nonexistent /usr/bin/feth-loader impair rate0 --rate 100mbit
feth-loader stats rate0 > /dev/null
mv /usr/sbin/tc.away /usr/sbin/tc
has 'tbf fe7f: root' tc -n pkg-r qdisc show dev rate0
has 'rate 100mbit' feth-loader show rate0
feth-loader down rate0 rate1
step "all passed"
