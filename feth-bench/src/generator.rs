//! The live-frames generator (BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES, as
//! xdp-trafficgen does it) and the counting sink, loaded from their own object. The benchmark
//! and `feth-loader gen`/`sink` (traffic.rs) use the same two programs.
use std::{
    ffi::CString,
    sync::atomic::{AtomicBool, Ordering},
    time::{Duration, Instant},
};

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, DevMap, MapData, PerCpuArray},
    programs::{
        SchedClassifier, TcAttachType, TestRun as _, TestRunAttrs, TestRunOptions, TestRunResult, Xdp, XdpMode,
        tc::{NlOptions, TcAttach, TcError, qdisc_add_clsact},
        xdp::XdpLinkId,
    },
};

use crate::{Accounting, RateOptions, Row, Sample, topology::Topology};
use feth_control::{
    error::{Context as _, FethError, Result},
    kernel::netns,
    kernel::rtnl::Rtnl,
    observe::counters::PortCounters,
};

static BENCH_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/feth-bench"));

const GEN: &str = "feth_bench_gen";
/// The generator that also varies addresses and ports (`gen` with flow ranges).
const GEN_FLOWS: &str = "feth_bench_gen_flows";
const SINK: &str = "feth_bench_sink";
const REDIRECT: &str = "feth_bench_redirect";
const TC_REDIRECT: &str = "feth_bench_tc_redirect";
/// Frames per BPF_PROG_RUN call (about 10 ms at a few Mpps) and per kernel batch.
const REPEAT: u32 = 1 << 15;
const BATCH: u32 = 64;
const WARMUP: Duration = Duration::from_millis(300);

pub struct BenchObject {
    ebpf: Ebpf,
    links: Vec<(&'static str, XdpLinkId)>,
    /// `transmit` runs the flows generator.
    flows: bool,
}

fn program<'a>(ebpf: &'a mut Ebpf, name: &str) -> Result<&'a mut Xdp> {
    let prog = ebpf
        .program_mut(name)
        .ok_or_else(|| FethError::KernelFeature(format!("{name} missing from the bench object")))?;
    <&mut Xdp>::try_from(prog).context(name.to_owned())
}

fn ifindex(dev: &str) -> Result<u32> {
    let name = CString::new(dev).expect("interface names have no NUL");
    // SAFETY: valid C string.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => Err(FethError::NoSuchInterface(dev.to_owned())),
        i => Ok(i),
    }
}

impl BenchObject {
    pub fn load() -> Result<BenchObject> {
        let mut ebpf = EbpfLoader::new().load(BENCH_OBJECT).context("load the benchmark eBPF object")?;
        for name in [GEN, GEN_FLOWS, SINK, REDIRECT] {
            program(&mut ebpf, name)?.load().context(format!("load {name}"))?;
        }
        let prog =
            ebpf.program_mut(TC_REDIRECT).ok_or_else(|| FethError::KernelFeature(format!("{TC_REDIRECT} missing")))?;
        <&mut SchedClassifier>::try_from(prog).context(TC_REDIRECT)?.load().context(format!("load {TC_REDIRECT}"))?;
        Ok(BenchObject { ebpf, links: Vec::new(), flows: false })
    }

    /// Attaches the sink (and the minimal crossover for its row); returns the sink's MAC.
    pub fn attach(&mut self, topo: &Topology) -> Result<Vec<u8>> {
        let mac = netns::run_in(Some(&topo.sink_ns), || {
            self.attach_sink_here(topo.sink_dev)?;
            Ok(Rtnl::open()?.link_by_name(topo.sink_dev)?.map(|l| l.mac).unwrap_or_default())
        })?;
        netns::run_in(Some(&topo.gen_ns), || self.attach_bare_here(topo.row))?;
        Ok(mac)
    }

    /// What a bare row attaches between a1 and b1 (bare_pairs_here), in the calling thread's
    /// namespace: the devmap redirect or the TC redirect; nothing for the other rows.
    pub fn attach_bare_here(&mut self, row: Row) -> Result<()> {
        let ebpf = &mut self.ebpf;
        if row == Row::MinimalTc {
            let mut target: Array<&mut MapData, u32> =
                Array::try_from(ebpf.map_mut("BENCH_TC_TARGET").expect("declared")).context("BENCH_TC_TARGET")?;
            target.set(0, &ifindex("b1")?, 0).context("BENCH_TC_TARGET[0] = b1")?;
            let a1 = ifindex("a1")?;
            match qdisc_add_clsact(a1) {
                Err(TcError::NetlinkError(e)) if e.raw_os_error() == Some(libc::EEXIST) => {}
                other => other.context("a1: add clsact")?,
            }
            let prog = ebpf.program_mut(TC_REDIRECT).expect("loaded above");
            let prog = <&mut SchedClassifier>::try_from(prog).context(TC_REDIRECT)?;
            let netlink = TcAttach::Netlink { parent: TcAttachType::Ingress.into(), options: NlOptions::default() };
            // Stays attached until the namespace (and a1 with it) is removed.
            prog.attach(a1, netlink).context("a1: attach the bare TC redirect")?;
        }
        if row == Row::MinimalDevmap {
            // A devmap entry's ifindex is resolved in the writer's namespace.
            let mut devmap: DevMap<&mut MapData> =
                DevMap::try_from(ebpf.map_mut("BENCH_CROSSOVER").expect("declared")).context("BENCH_CROSSOVER")?;
            devmap.set(0, ifindex("b1")?, None, 0).context("BENCH_CROSSOVER[0] = b1")?;
            let redirect = program(ebpf, REDIRECT)?;
            let id = redirect.attach(ifindex("a1")?, XdpMode::Driver).context("a1: attach minimal crossover")?;
            self.links.push((REDIRECT, id));
        }
        Ok(())
    }

    pub fn detach_all(&mut self) {
        for (name, id) in std::mem::take(&mut self.links) {
            if let Ok(prog) = program(&mut self.ebpf, name) {
                let _ = prog.detach(id);
            }
        }
    }

    fn sink_count(&self) -> Result<u64> {
        self.count(0)
    }

    /// BENCH_COUNT[index] summed over the CPUs (0: the bench's frames at the sink, 1: the bare
    /// crossover, 2: every frame at the sink).
    pub fn count(&self, index: u32) -> Result<u64> {
        let counts: PerCpuArray<&MapData, u64> =
            PerCpuArray::try_from(self.ebpf.map("BENCH_COUNT").expect("declared")).context("BENCH_COUNT")?;
        Ok(counts.get(&index, 0).context("read BENCH_COUNT")?.iter().sum())
    }

    /// Attaches the sink to `dev` of the calling thread's namespace (`traffic::sink`).
    pub fn attach_sink_here(&mut self, dev: &str) -> Result<()> {
        let sink = program(&mut self.ebpf, SINK)?;
        let id = sink.attach(ifindex(dev)?, XdpMode::Driver).context(format!("{dev}: attach the sink"))?;
        self.links.push((SINK, id));
        Ok(())
    }

    /// From now on `transmit` varies each frame's addresses and ports over `flows` (`None`:
    /// frames go as built).
    pub fn set_flows(&mut self, flows: Option<feth_common::flows::Flows>) -> Result<()> {
        if let Some(f) = &flows {
            let mut map: Array<&mut MapData, feth_common::flows::Flows> =
                Array::try_from(self.ebpf.map_mut(feth_common::flows::MAP_FLOWS).expect("declared"))
                    .context(feth_common::flows::MAP_FLOWS)?;
            map.set(0, f, 0).context("write BENCH_FLOWS")?;
        }
        self.flows = flows.is_some();
        Ok(())
    }

    /// Transmits `data` `repeat` times from `dev` of the calling thread's namespace, as if `dev`
    /// had sent it: one BPF_PROG_RUN with live frames, the generator answering XDP_TX.
    pub fn transmit(&self, dev_ifindex: u32, data: &[u8], repeat: u32) -> Result<()> {
        let name = if self.flows { GEN_FLOWS } else { GEN };
        self.run(name, dev_ifindex, data, repeat, TestRunAttrs::new().xdp_live_frames(BATCH))
            .map(drop)
            .map_err(|e| FethError::KernelFeature(format!("BPF_PROG_RUN with live frames failed (5.18+ needed): {e}")))
    }

    /// One BPF_PROG_RUN of the generator `program` over `data`, as received on `dev_ifindex`.
    fn run(
        &self,
        program: &str,
        dev_ifindex: u32,
        data: &[u8],
        repeat: u32,
        attrs: TestRunAttrs,
    ) -> Result<TestRunResult, Box<dyn std::error::Error>> {
        let generator = self.ebpf.program(program).ok_or("generator missing from the object")?;
        let generator = <&Xdp>::try_from(generator)?;
        let mut ctx = [0u32; 6];
        ctx[1] = data.len() as u32; // data_end
        ctx[3] = dev_ifindex; // ingress_ifindex
        // SAFETY: plain u32s viewed as bytes, as the kernel's struct xdp_md.
        let ctx_bytes = unsafe { std::slice::from_raw_parts(ctx.as_ptr().cast::<u8>(), 24) };
        let opts = TestRunOptions { data_in: Some(data), ctx_in: Some(ctx_bytes), repeat, attrs, ..Default::default() };
        Ok(generator.test_run(opts)?)
    }
}

/// An interface's index in the calling thread's namespace.
pub fn ifindex_here(dev: &str) -> Result<u32> {
    ifindex(dev)
}

/// One generated frame of `size` bytes (no FCS) to `dst`.
fn frame(dst: &[u8], size: usize) -> Vec<u8> {
    let mut f = Vec::with_capacity(size);
    f.extend_from_slice(if dst.len() == 6 { dst } else { &[0xff; 6] });
    f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]);
    f.extend_from_slice(&0x88b5u16.to_be_bytes());
    f.resize(size.max(60), 0x5a);
    f
}

pub fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET and sched_setaffinity act on this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
    }
}

/// A feth row's counters now: (sender, receiver).
fn feth_counters(row: Row) -> Result<Option<(PortCounters, PortCounters)>> {
    let Some((a, b)) = super::topology::feth_names(row) else { return Ok(None) };
    feth_control::read_state(|state| {
        let a = feth_control::observe::counters::read(state, state.port(a)?)?;
        let b = feth_control::observe::counters::read(state, state.port(b)?)?;
        Ok(Some((a, b)))
    })
}

/// Waits (bounded) until the sink count stops moving: frames in flight have landed.
fn settle(objects: &BenchObject) -> Result<u64> {
    let mut last = objects.sink_count()?;
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(10));
        let now = objects.sink_count()?;
        if now == last {
            return Ok(now);
        }
        last = now;
    }
    Ok(last)
}

/// One slice: the generator on every chosen CPU, the sink's rate over the window, and for feth
/// rows where every generated frame went.
pub fn measure(
    objects: &BenchObject,
    topo: &Topology,
    size: usize,
    round: usize,
    opts: &RateOptions,
) -> Result<Sample> {
    let data = frame(&topo.sink_mac, size);
    let stop = AtomicBool::new(false);
    let window = Duration::from_secs_f64(opts.seconds);
    let before = feth_counters(topo.row)?;
    let sink_start = settle(objects)?;
    std::thread::scope(|scope| -> Result<Sample> {
        let workers: Vec<_> = opts
            .cpus
            .iter()
            .map(|&cpu| {
                let (data, stop) = (&data, &stop);
                scope.spawn(move || {
                    let file = netns::open(&topo.gen_ns)?;
                    netns::enter(&file).context(format!("enter {}", topo.gen_ns))?;
                    pin_to_cpu(cpu);
                    let dev = ifindex(topo.gen_dev)?;
                    let mut generated = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        objects.transmit(dev, data, REPEAT)?;
                        generated += u64::from(REPEAT);
                    }
                    Ok(generated)
                })
            })
            .collect();
        std::thread::sleep(WARMUP);
        let sink0 = objects.sink_count()?;
        let start = Instant::now();
        std::thread::sleep(window);
        let sink1 = objects.sink_count()?;
        let secs = start.elapsed().as_secs_f64();
        stop.store(true, Ordering::Relaxed);
        let mut generated = 0;
        for w in workers {
            generated += w.join().expect("generator thread")?;
        }
        let pps = (sink1 - sink0) as f64 / secs;
        let received = settle(objects)? - sink_start;
        let accounting = match (before, feth_counters(topo.row)?) {
            (Some((a0, b0)), Some((a1, b1))) => {
                let d = |after: u64, before: u64| after.saturating_sub(before);
                let mut acc = Accounting {
                    generated,
                    received,
                    tx_refused: d(
                        a1.drops.tx_refused + a1.drops.tx_link_down,
                        a0.drops.tx_refused + a0.drops.tx_link_down,
                    ),
                    tx_no_peer: d(a1.drops.tx_no_peer.packets, a0.drops.tx_no_peer.packets),
                    tx_redirect_error: d(a1.drops.tx_redirect_error.packets, a0.drops.tx_redirect_error.packets),
                    tx_impaired: d(a1.drops.tx_loss.packets, a0.drops.tx_loss.packets)
                        + d(a1.drops.tx_loss_every.packets, a0.drops.tx_loss_every.packets),
                    rx_refused: d(b1.drops.rx_refused.packets, b0.drops.rx_refused.packets),
                    unaccounted: 0,
                };
                acc.unaccounted = generated as i64
                    - (acc.received
                        + acc.tx_refused
                        + acc.tx_no_peer
                        + acc.tx_redirect_error
                        + acc.tx_impaired
                        + acc.rx_refused) as i64;
                Some(acc)
            }
            _ => None,
        };
        Ok(Sample {
            row: topo.row,
            frame_size: size,
            round,
            mpps: pps / 1e6,
            gbps: pps * size as f64 * 8.0 / 1e9,
            accounting,
        })
    })
}
