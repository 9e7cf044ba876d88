//! The benchmark's own eBPF object (feth-bench/ebpf): the live-frames generator
//! (BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES, as xdp-trafficgen does it), the counting sink
//! and the bare redirects feth is measured against. The benchmark and `feth-loader gen`/`sink`
//! (crate::traffic) use the same programs.
use std::ffi::CString;

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, DevMap, MapData, PerCpuArray},
    programs::{
        SchedClassifier, TcAttachType, TestRun as _, TestRunAttrs, TestRunOptions, TestRunResult, Xdp, XdpMode,
        tc::{NlOptions, TcAttach, TcError, qdisc_add_clsact},
        xdp::XdpLinkId,
    },
};
use feth_common::bench::COUNT_MAP;
pub use feth_common::bench::Count;
use feth_control::error::{Context as _, FethError, Result};

static BENCH_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/feth-bench"));

const GEN: &str = "feth_bench_gen";
/// The generator that also varies addresses and ports (`gen` with flow ranges).
const GEN_FLOWS: &str = "feth_bench_gen_flows";
const SINK: &str = "feth_bench_sink";
/// The bare crossings feth is measured against (their run time: benchmark::cost).
pub const REDIRECT: &str = "feth_bench_redirect";
pub const TC_REDIRECT: &str = "feth_bench_tc_redirect";
pub const TC_REDIRECT_PEER: &str = "feth_bench_tc_redirect_peer";
const TC_SINK: &str = "feth_bench_tc_sink";
/// Frames the kernel sends per batch of a live-frames run.
const BATCH: u32 = 64;

pub struct BenchObject {
    ebpf: Ebpf,
    links: Vec<(&'static str, XdpLinkId)>,
    /// `transmit` runs the flows generator.
    flows: bool,
    /// TC filters attached so far (each gets its own priority).
    tc_filters: u16,
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
        for name in [TC_REDIRECT, TC_REDIRECT_PEER, TC_SINK] {
            let prog = ebpf.program_mut(name).ok_or_else(|| FethError::KernelFeature(format!("{name} missing")))?;
            <&mut SchedClassifier>::try_from(prog).context(name)?.load().context(format!("load {name}"))?;
        }
        Ok(BenchObject { ebpf, links: Vec::new(), flows: false, tc_filters: 0 })
    }

    /// The bare TC redirect from `from` to `to` (a cls_bpf filter on `from`'s ingress), in
    /// the calling thread's namespace: to `to`'s egress, or with `peer` into the ingress of
    /// `to`'s veth peer (`bpf_redirect_peer`, which must be in another namespace). Stays
    /// attached until `from` is removed.
    pub fn attach_tc_redirect_here(&mut self, from: &str, to: &str, peer: bool) -> Result<()> {
        let mut target: Array<&mut MapData, u32> =
            Array::try_from(self.ebpf.map_mut("BENCH_TC_TARGET").expect("declared")).context("BENCH_TC_TARGET")?;
        target.set(0, &ifindex(to)?, 0).context(format!("BENCH_TC_TARGET[0] = {to}"))?;
        let name = if peer { TC_REDIRECT_PEER } else { TC_REDIRECT };
        self.attach_tc_here(name, from, "attach the bare TC redirect")
    }

    /// Attaches the sink to `dev`'s TC ingress in the calling thread's namespace, for frames
    /// that arrive after the XDP hook. Stays attached until `dev` is removed.
    pub fn attach_tc_sink_here(&mut self, dev: &str) -> Result<()> {
        self.attach_tc_here(TC_SINK, dev, "attach the sink at TC ingress")
    }

    fn attach_tc_here(&mut self, name: &str, dev: &str, what: &str) -> Result<()> {
        let index = ifindex(dev)?;
        match qdisc_add_clsact(index) {
            Err(TcError::NetlinkError(e)) if e.raw_os_error() == Some(libc::EEXIST) => {}
            other => other.context(format!("{dev}: add clsact"))?,
        }
        // A priority of its own for each filter: the rows' devices share names and indexes in
        // their namespaces, and aya refuses a second link of one program with the same
        // (index, priority, handle).
        self.tc_filters += 1;
        let options = NlOptions { priority: self.tc_filters, ..NlOptions::default() };
        let prog = self.ebpf.program_mut(name).expect("loaded by load()");
        let prog = <&mut SchedClassifier>::try_from(prog).context(name.to_owned())?;
        let netlink = TcAttach::Netlink { parent: TcAttachType::Ingress.into(), options };
        prog.attach(index, netlink).context(format!("{dev}: {what}"))?;
        Ok(())
    }

    /// The bare devmap redirect (XDP) from `from` to `to`, in the calling thread's namespace.
    pub fn attach_devmap_redirect_here(&mut self, from: &str, to: &str) -> Result<()> {
        let ebpf = &mut self.ebpf;
        // A devmap entry's ifindex is resolved in the writer's namespace.
        let mut devmap: DevMap<&mut MapData> =
            DevMap::try_from(ebpf.map_mut("BENCH_CROSSOVER").expect("declared")).context("BENCH_CROSSOVER")?;
        devmap.set(0, ifindex(to)?, None, 0).context(format!("BENCH_CROSSOVER[0] = {to}"))?;
        let redirect = program(ebpf, REDIRECT)?;
        let id =
            redirect.attach(ifindex(from)?, XdpMode::Driver).context(format!("{from}: attach minimal crossover"))?;
        self.links.push((REDIRECT, id));
        Ok(())
    }

    /// The kernel's information on one of the object's programs now, its run time included.
    pub fn program_info(&self, name: &str) -> Result<aya::programs::ProgramInfo> {
        let prog = self.ebpf.program(name).ok_or_else(|| FethError::KernelFeature(format!("{name} missing")))?;
        prog.info().context(format!("read {name}'s run time"))
    }

    pub fn detach_all(&mut self) {
        for (name, id) in std::mem::take(&mut self.links) {
            if let Ok(prog) = program(&mut self.ebpf, name) {
                let _ = prog.detach(id);
            }
        }
    }

    /// A count of the sink or the bare crossover, summed over the CPUs.
    pub fn count(&self, count: Count) -> Result<u64> {
        let counts: PerCpuArray<&MapData, u64> =
            PerCpuArray::try_from(self.ebpf.map(COUNT_MAP).expect("declared")).context(COUNT_MAP)?;
        Ok(counts.get(&(count as u32), 0).context(format!("read {COUNT_MAP}"))?.iter().sum())
    }

    /// Attaches the sink to `dev` of the calling thread's namespace.
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

/// Pins the calling thread to `cpu`.
pub fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is empty; CPU_SET and sched_setaffinity act on this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set);
    }
}

/// gen, sink and the benchmark send with BPF_PROG_RUN live frames and take frames with
/// multi-buffer XDP programs, both Linux 5.18: refused before anything is touched on older
/// kernels.
pub fn require_live_frames(ctx: &feth_control::kernel::context::Context, what: &str) -> Result<()> {
    if ctx.features.live_frames {
        return Ok(());
    }
    Err(FethError::KernelFeature(format!(
        "{what} needs Linux 5.18 (BPF_PROG_RUN with live frames and multi-buffer XDP); this kernel is {}",
        feth_control::kernel::features::release()
    )))
}
