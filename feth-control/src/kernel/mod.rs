//! Generic access to the kernel: rtnetlink, namespaces, ethtool, bpffs and its lock, the
//! permission checks, the features of the running kernel, and the caller's identity and the
//! helpers it may run. Knows nothing of ports or peering.
pub mod bpf_syscall;
pub mod bpffs;
pub mod caller;
pub mod context;
pub mod ethtool;
pub mod features;
pub mod helper;
pub mod netns;
pub mod privilege;
pub mod rtnl;
