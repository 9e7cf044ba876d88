//! The benchmark's eBPF object (feth-bench/ebpf) and its loader: the slots of its counting map.

/// Per-CPU counts of frames, one slot per [`Count`].
pub const COUNT_MAP: &str = "BENCH_COUNT";

/// The slots of [`COUNT_MAP`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Count {
    /// The generator's frames that reached the sink (its EtherType).
    GenAtSink = 0,
    /// Frames the bare devmap redirect crossed.
    BareCrossed = 1,
    /// Every frame that reached the sink (`feth-loader sink`).
    AllAtSink = 2,
}

/// How many slots [`COUNT_MAP`] has.
pub const COUNT_SLOTS: usize = 3;
