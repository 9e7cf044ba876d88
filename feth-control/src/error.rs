//! The loader's typed errors. Each renders as one sentence naming the interface and the reason.
use thiserror::Error;

#[derive(Debug, Error)]
pub enum FethError {
    /// A capability or a file permission is missing (the sentence names it).
    #[error("{0}")]
    NotPermitted(String),
    #[error("{0}: no such interface")]
    NoSuchInterface(String),
    #[error("{0}: invalid: not a feth interface")]
    NotFeth(String),
    #[error("{0}: invalid: an interface cannot be peered with itself")]
    SelfPeer(String),
    #[error("{name}: busy: already peered with {peer}")]
    Busy { name: String, peer: String },
    #[error("{0}: interface name is longer than 15 bytes")]
    NameTooLong(String),
    #[error("{name}: invalid interface name: {reason}")]
    BadName { name: String, reason: &'static str },
    #[error("{0}: an interface with this name already exists and is not a feth interface")]
    NameTaken(String),
    #[error("{name}: MTU {mtu} is out of range ({min}..={max})")]
    MtuOutOfRange { name: String, mtu: u32, min: u32, max: u32 },
    #[error("{name}: already exists in network namespace {actual}, not {wanted}")]
    WrongNetns { name: String, actual: String, wanted: String },
    #[error("{name}: invalid media: {reason}")]
    BadMedia { name: String, reason: String },
    #[error("{name}: {reason}")]
    Refused { name: String, reason: String },
    #[error("no feth interface exists (create one first)")]
    NoPorts,
    #[error("{0}: no such network namespace")]
    NoSuchNetns(String),
    #[error("network namespace {0} has no name or process that leads to it, so feth cannot enter it")]
    UnreachableNetns(String),
    #[error("{name}: ambiguous: interfaces of this name are feth interfaces in {a} and in {b}; rename one")]
    Ambiguous { name: String, a: String, b: String },
    #[error("{0}: not on a bpffs mount (mount -t bpf bpf DIR, or choose a directory below /sys/fs/bpf)")]
    NotBpffs(std::path::PathBuf),
    #[error("all {0} feth slots are in use")]
    NoFreeSlot(u32),
    #[error(
        "{name}: MTU {mtu} is above {max}, the largest frame XDP mode crosses on this kernel (multi-buffer XDP redirect arrived in Linux 6.3); use --mode tc or a lower MTU"
    )]
    XdpMtu { name: String, mtu: u32, max: u32 },
    /// A bad argument that names no interface (the sentence says what and why).
    #[error("{0}")]
    Invalid(String),
    #[error("the kernel lacks a feature feth needs: {0}")]
    KernelFeature(String),
    /// A change failed midway (`apply`), and undoing the changes made before it failed too.
    #[error("{cause}; undoing what was changed before it failed too ({undo}): run `feth-loader repair`")]
    NotRolledBack { cause: Box<FethError>, undo: Box<FethError> },
    /// A program feth runs (the benchmark's iperf3 and sockperf) did not do its part.
    #[error("{program}: {reason}")]
    Helper { program: &'static str, reason: String },
    #[error("{context}: {cause}")]
    Netlink {
        context: String,
        #[source]
        cause: rtnetlink::Error,
    },
    #[error("{context}: {cause}")]
    Bpf {
        context: String,
        #[source]
        cause: Box<dyn std::error::Error + Send + Sync>,
        /// The errno found in the cause's chain (aya keeps it in a source).
        errno: Option<i32>,
    },
    #[error("{context}: {cause}")]
    Io {
        context: String,
        #[source]
        cause: std::io::Error,
    },
}

pub type Result<T, E = FethError> = std::result::Result<T, E>;

/// What kind of failure an error is, for the exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// A bad argument or a state that does not allow the request; nothing was changed.
    Refused,
    /// A capability or file permission is missing.
    NotPermitted,
    /// The kernel lacks a feature feth needs.
    KernelFeature,
    /// The kernel or the system refused an operation midway.
    Failed,
}

impl FethError {
    pub fn class(&self) -> Class {
        let permission = |errno: Option<i32>| matches!(errno, Some(libc::EPERM | libc::EACCES));
        match self {
            FethError::NotPermitted(_) => Class::NotPermitted,
            FethError::KernelFeature(_) => Class::KernelFeature,
            FethError::Netlink { cause, .. } if permission(errno(cause)) => Class::NotPermitted,
            FethError::Io { cause, .. } if permission(cause.raw_os_error()) => Class::NotPermitted,
            FethError::Bpf { errno, .. } if permission(*errno) => Class::NotPermitted,
            FethError::Netlink { .. }
            | FethError::Io { .. }
            | FethError::Bpf { .. }
            | FethError::Helper { .. }
            | FethError::NotRolledBack { .. } => Class::Failed,
            _ => Class::Refused,
        }
    }
}

/// Attaches a context sentence to a lower-level error.
pub trait Context<T> {
    fn context(self, context: impl Into<String>) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|source| FethError::Io { context: context.into(), cause: source })
    }
}

impl<T> Context<T> for std::result::Result<T, rtnetlink::Error> {
    fn context(self, context: impl Into<String>) -> Result<T> {
        self.map_err(|source| FethError::Netlink { context: context.into(), cause: source })
    }
}

/// The errno carried by a netlink error reply, if any.
pub fn errno(err: &rtnetlink::Error) -> Option<i32> {
    match err {
        rtnetlink::Error::NetlinkError(msg) => msg.code.map(|c| -c.get()),
        _ => None,
    }
}

/// The errno of the first `io::Error` in an error's source chain.
fn errno_in(err: &(dyn std::error::Error + 'static)) -> Option<i32> {
    let mut at = Some(err);
    while let Some(e) = at {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return io.raw_os_error();
        }
        at = e.source();
    }
    None
}

/// An error with its whole source chain on one line (aya's errors keep the errno in a source).
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

macro_rules! bpf_context {
    ($($err:ty),*) => {$(
        impl<T> Context<T> for std::result::Result<T, $err> {
            fn context(self, context: impl Into<String>) -> Result<T> {
                self.map_err(|source| FethError::Bpf {
                    context: context.into(),
                    cause: chain(&source).into(),
                    errno: errno_in(&source),
                })
            }
        }
    )*};
}
bpf_context!(
    aya::EbpfError,
    aya::maps::MapError,
    aya::programs::ProgramError,
    aya::pin::PinError,
    aya::programs::links::LinkError,
    aya::maps::xdp::XdpMapError,
    aya::programs::TcError,
    aya::maps::perf::PerfBufferError
);
