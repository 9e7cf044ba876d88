//! The `bpf(2)` commands aya does not offer, in one place: feature probes (a tiny program
//! load and a link on ifindex 0), netkit links (aya 0.16 attaches TC programs through netlink
//! or TCX only), pinning them, opening a pin read-only (aya opens pins read-write only) and
//! detaching a link at once. Plain structs of the prefixes of `union bpf_attr` each command
//! reads; the kernel zero-extends a shorter attr.
use std::{
    ffi::CString,
    io,
    os::{
        fd::{AsRawFd as _, BorrowedFd, FromRawFd as _, OwnedFd},
        unix::ffi::OsStrExt as _,
    },
    path::Path,
};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_OBJ_PIN: libc::c_long = 6;
const BPF_OBJ_GET: libc::c_long = 7;
const BPF_LINK_CREATE: libc::c_long = 28;
const BPF_LINK_DETACH: libc::c_long = 34;
const BPF_PROG_TYPE_SCHED_CLS: u32 = 3;

/// The BPF_PROG_LOAD part of `union bpf_attr` a probe fills.
#[repr(C)]
struct ProgLoad {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
}

/// The BPF_LINK_CREATE part of `union bpf_attr`, up to its TCX and netkit fields (the same
/// layout: a relative fd or id and an expected revision).
#[repr(C)]
struct LinkCreate {
    prog_fd: u32,
    target_ifindex: u32,
    attach_type: u32,
    flags: u32,
    relative_fd: u32,
    _pad: u32,
    expected_revision: u64,
}

/// The BPF_OBJ_PIN and BPF_OBJ_GET part of `union bpf_attr`.
#[repr(C)]
struct Obj {
    pathname: u64,
    bpf_fd: u32,
    file_flags: u32,
}

/// The BPF_LINK_DETACH part of `union bpf_attr`.
#[repr(C)]
struct LinkDetach {
    link_fd: u32,
}

/// `bpf(2)` with `attr`: what the kernel returned, or its errno.
fn call<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: attr is a valid prefix of union bpf_attr for cmd, alive for the call; any
    // pointer in it (a path, instructions, a license) outlives the call too.
    let rc = unsafe {
        libc::syscall(libc::SYS_bpf, cmd, std::ptr::from_mut(attr), std::mem::size_of::<T>() as libc::c_uint)
    };
    if rc < 0 { Err(io::Error::last_os_error()) } else { Ok(rc) }
}

/// `bpf(2)` for a command that returns a new file descriptor.
fn call_fd<T>(cmd: libc::c_long, attr: &mut T) -> io::Result<OwnedFd> {
    let fd = call(cmd, attr)?;
    // SAFETY: the kernel returned a new file descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// A do-nothing TC program (r0 = TC_ACT_OK; exit), for probes.
pub fn load_probe_program() -> io::Result<OwnedFd> {
    let insns: [u64; 2] = [0xb7, 0x95];
    let license = c"GPL";
    let mut attr = ProgLoad {
        prog_type: BPF_PROG_TYPE_SCHED_CLS,
        insn_cnt: insns.len() as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
    };
    call_fd(BPF_PROG_LOAD, &mut attr)
}

/// Links the program `prog` for `attach_type` on the device `ifindex` (in the calling thread's
/// namespace), after whatever is attached there: the link's descriptor.
pub fn link_create(prog: BorrowedFd<'_>, ifindex: u32, attach_type: u32) -> io::Result<OwnedFd> {
    let mut attr = LinkCreate {
        prog_fd: prog.as_raw_fd() as u32,
        target_ifindex: ifindex,
        attach_type,
        flags: 0,
        relative_fd: 0,
        _pad: 0,
        expected_revision: 0,
    };
    call_fd(BPF_LINK_CREATE, &mut attr)
}

/// BPF_LINK_DETACH: the program leaves its hook now; the link object lives on while held.
pub fn link_detach(link: BorrowedFd<'_>) -> io::Result<()> {
    call(BPF_LINK_DETACH, &mut LinkDetach { link_fd: link.as_raw_fd() as u32 }).map(drop)
}

/// Pins the object `fd` (a link) at `path` on bpffs.
pub fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> io::Result<()> {
    let path = CString::new(path.as_os_str().as_bytes())?;
    let mut attr = Obj { pathname: path.as_ptr() as u64, bpf_fd: fd.as_raw_fd() as u32, file_flags: 0 };
    call(BPF_OBJ_PIN, &mut attr).map(drop)
}

/// BPF_OBJ_GET with `file_flags`: the pinned object at `path`, as an fd of our own.
pub fn obj_get(path: &Path, file_flags: u32) -> io::Result<OwnedFd> {
    let path = CString::new(path.as_os_str().as_bytes())?;
    let mut attr = Obj { pathname: path.as_ptr() as u64, bpf_fd: 0, file_flags };
    call_fd(BPF_OBJ_GET, &mut attr)
}
