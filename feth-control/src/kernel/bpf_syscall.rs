//! The few `bpf(2)` commands aya does not offer: feature probes, and netkit links (aya 0.16
//! attaches TC programs through netlink or TCX only). Plain structs of the prefixes of
//! `union bpf_attr` each command reads; the kernel zero-extends a shorter attr.
use std::{
    ffi::CString,
    os::fd::{AsRawFd as _, BorrowedFd, FromRawFd as _, OwnedFd},
    path::Path,
};

pub const BPF_PROG_LOAD: libc::c_long = 5;
pub const BPF_OBJ_PIN: libc::c_long = 6;
pub const BPF_LINK_CREATE: libc::c_long = 28;
pub const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;

/// The BPF_PROG_LOAD part of `union bpf_attr` a probe fills.
#[repr(C)]
pub struct ProgLoad {
    pub prog_type: u32,
    pub insn_cnt: u32,
    pub insns: u64,
    pub license: u64,
}

/// The BPF_LINK_CREATE part of `union bpf_attr`, up to its TCX and netkit fields (the same
/// layout: a relative fd or id and an expected revision).
#[repr(C)]
pub struct LinkCreate {
    prog_fd: u32,
    target_ifindex: u32,
    attach_type: u32,
    flags: u32,
    relative_fd: u32,
    _pad: u32,
    expected_revision: u64,
}

impl LinkCreate {
    /// A link of `prog_fd` for `attach_type` on the device `target_ifindex`, appended after
    /// whatever is attached there (no relative program, any revision).
    pub fn new(prog_fd: u32, target_ifindex: u32, attach_type: u32) -> LinkCreate {
        LinkCreate { prog_fd, target_ifindex, attach_type, flags: 0, relative_fd: 0, _pad: 0, expected_revision: 0 }
    }
}

/// The BPF_OBJ_PIN part of `union bpf_attr`.
#[repr(C)]
struct ObjPin {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
}

/// `bpf(2)` with `attr`, for a command that returns a new file descriptor; it, or the errno.
pub fn bpf<T>(cmd: libc::c_long, attr: &mut T) -> Result<OwnedFd, i32> {
    // SAFETY: attr is a valid prefix of union bpf_attr for cmd, alive for the call.
    let fd = unsafe {
        libc::syscall(libc::SYS_bpf, cmd, std::ptr::from_mut(attr), std::mem::size_of::<T>() as libc::c_uint)
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Links the program `prog` for `attach_type` on the device `ifindex` (in the calling thread's
/// namespace): the link's descriptor, or the errno.
pub fn link_create(prog: BorrowedFd<'_>, ifindex: u32, attach_type: u32) -> Result<OwnedFd, i32> {
    bpf(BPF_LINK_CREATE, &mut LinkCreate::new(prog.as_raw_fd() as u32, ifindex, attach_type))
}

/// Pins the object `fd` (a link) at `path` on bpffs; the errno on failure.
pub fn pin(fd: BorrowedFd<'_>, path: &Path) -> Result<(), i32> {
    use std::os::unix::ffi::OsStrExt as _;
    let path = CString::new(path.as_os_str().as_bytes()).map_err(|_| libc::EINVAL)?;
    let mut attr = ObjPin { pathname: path.as_ptr() as u64, bpf_fd: fd.as_raw_fd() as u32, file_flags: 0 };
    // SAFETY: attr is the BPF_OBJ_PIN prefix of union bpf_attr; path outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_OBJ_PIN,
            std::ptr::from_mut(&mut attr),
            std::mem::size_of::<ObjPin>() as libc::c_uint,
        )
    };
    if rc < 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    Ok(())
}
