//! Builds the benchmark's eBPF programs (feth-bench/ebpf); generator.rs embeds the object.
#[path = "../feth-control/build_ebpf.rs"]
mod build_ebpf;

fn main() -> anyhow::Result<()> {
    build_ebpf::build("feth-bench-ebpf")
}
