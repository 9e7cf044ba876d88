# bounded LIMIT PROG ARG...: runs PROG (a test binary, inside the VM) for at most LIMIT
# seconds. Past it, prints every process with its state, kernel wait channel and command line,
# and the kernel stacks of the ones below PROG, so a hang says where it hung; then ends PROG's
# process group and returns 124. Sourced by the script crate::vm builds.
bounded() {
    local limit=$1; shift
    setsid "$@" & local pid=$! waited=0
    while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt "$limit" ]; do sleep 1; waited=$((waited + 1)); done
    if ! kill -0 "$pid" 2>/dev/null; then wait "$pid"; return; fi
    echo "xtask: $1 did not end within $limit s; the processes:"
    local d p
    for d in /proc/[0-9]*; do
        p=${d#/proc/}
        printf '  %s ppid %s %s in %s: %s\n' "$p" "$(awk '{print $4}' "$d/stat" 2>/dev/null)" \
            "$(awk '{print $3}' "$d/stat" 2>/dev/null)" "$(cat "$d/wchan" 2>/dev/null)" \
            "$(tr '\0' ' ' <"$d/cmdline" 2>/dev/null | cut -c1-160)"
        if [ "$(awk '{print $5}' "$d/stat" 2>/dev/null)" = "$pid" ]; then sed 's/^/      /' "$d/stack" 2>/dev/null; fi
    done
    kill -TERM -- "-$pid" 2>/dev/null; sleep 2; kill -KILL -- "-$pid" 2>/dev/null
    wait "$pid"
    return 124
}
