//! Builds the product's eBPF programs (feth-ebpf); crossover.rs embeds the object.
#[path = "build_ebpf.rs"]
mod build_ebpf;

fn main() -> anyhow::Result<()> {
    build_ebpf::build("feth-ebpf")
}
