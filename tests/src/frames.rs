//! Raw Ethernet frames through AF_PACKET sockets: what a test bench's generator would write.
use std::{
    ffi::CString,
    os::fd::{AsRawFd as _, FromRawFd as _, OwnedFd},
    time::{Duration, Instant},
};

/// IEEE 802 local experimental EtherType: nothing else on a test link uses it.
pub const ETHERTYPE_TEST: u16 = 0x88b5;
const PACKET_OUTGOING: u8 = 4;

/// A frame of `len` bytes (header included) carrying `seq` and a payload derived from it.
pub fn test_frame(src: [u8; 6], len: usize, seq: u32) -> Vec<u8> {
    assert!(len >= 18);
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&ETHERTYPE_TEST.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend((f.len()..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).wrapping_add(seq) as u8));
    f
}

/// Sequence number of a frame made by [`test_frame`].
pub fn seq_of(frame: &[u8]) -> u32 {
    u32::from_be_bytes(frame[14..18].try_into().expect("4 bytes"))
}

pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

impl PacketSocket {
    /// Opens a socket on `ifname` in the calling thread's namespace, receiving only
    /// [`ETHERTYPE_TEST`] frames.
    pub fn open(ifname: &str) -> PacketSocket {
        Self::open_proto(ifname, ETHERTYPE_TEST)
    }

    /// Same, for any EtherType (`ETH_P_ALL`).
    pub fn open_all(ifname: &str) -> PacketSocket {
        Self::open_proto(ifname, libc::ETH_P_ALL as u16)
    }

    fn open_proto(ifname: &str, proto: u16) -> PacketSocket {
        let name = CString::new(ifname).unwrap();
        // SAFETY: plain libc calls with valid arguments; the fd is owned right away.
        unsafe {
            let ifindex = libc::if_nametoindex(name.as_ptr()) as i32;
            assert!(ifindex > 0, "{ifname}: no such interface here");
            let raw = libc::socket(libc::AF_PACKET, libc::SOCK_RAW | libc::SOCK_CLOEXEC, i32::from(proto.to_be()));
            assert!(raw >= 0, "packet socket: {}", std::io::Error::last_os_error());
            let fd = OwnedFd::from_raw_fd(raw);
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = proto.to_be();
            sll.sll_ifindex = ifindex;
            let rc = libc::bind(fd.as_raw_fd(), (&raw const sll).cast(), size_of::<libc::sockaddr_ll>() as u32);
            assert_eq!(rc, 0, "bind packet socket: {}", std::io::Error::last_os_error());
            let size: i32 = 8 << 20;
            libc::setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, (&raw const size).cast(), 4);
            PacketSocket { fd, ifindex }
        }
    }

    /// A send buffer of `bytes`: a sender that can outrun a shaper's queue instead of being
    /// paced by it (frames held in a qdisc count against the buffer).
    pub fn set_send_buffer(&self, bytes: i32) {
        // SAFETY: a valid socket and option value.
        let rc = unsafe {
            libc::setsockopt(self.fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, (&raw const bytes).cast(), 4)
        };
        assert_eq!(rc, 0, "SO_SNDBUFFORCE: {}", std::io::Error::last_os_error());
    }

    /// Room for a burst the test reads only afterwards (SO_RCVBUFFORCE, as root).
    pub fn set_recv_buffer(&self, bytes: i32) {
        // SAFETY: a valid socket and option value.
        let rc = unsafe {
            libc::setsockopt(self.fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, (&raw const bytes).cast(), 4)
        };
        assert_eq!(rc, 0, "SO_RCVBUFFORCE: {}", std::io::Error::last_os_error());
    }

    pub fn send(&self, frame: &[u8]) {
        assert!(self.try_send(frame), "send {} bytes: {}", frame.len(), std::io::Error::last_os_error());
    }

    /// Sends `frame`; false when the kernel refused it with ENOBUFS (a full queue or a qdisc
    /// that dropped it: counted by the interface, as a test of drop reasons wants).
    pub fn try_send(&self, frame: &[u8]) -> bool {
        // SAFETY: frame is a valid buffer; the socket is bound to its interface.
        let n = unsafe {
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_ifindex = self.ifindex;
            sll.sll_halen = 6;
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&raw const sll).cast(),
                size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENOBUFS) {
            return false;
        }
        assert_eq!(n, frame.len() as isize, "send {} bytes: {}", frame.len(), std::io::Error::last_os_error());
        true
    }

    /// Next incoming (not outgoing) frame, or `None` after `timeout` (scaled).
    pub fn recv(&self, timeout: Duration) -> Option<Vec<u8>> {
        let deadline = Instant::now() + crate::scaled(timeout);
        let mut buf = vec![0u8; 65536];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut pfd = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
            if ready <= 0 {
                return None;
            }
            // SAFETY: buf and sll are valid for the lengths given.
            let (n, sll) = unsafe {
                let mut sll: libc::sockaddr_ll = std::mem::zeroed();
                let mut len = size_of::<libc::sockaddr_ll>() as u32;
                let n = libc::recvfrom(
                    self.fd.as_raw_fd(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    libc::MSG_TRUNC,
                    (&raw mut sll).cast(),
                    &mut len,
                );
                (n, sll)
            };
            assert!(n >= 0, "recv: {}", std::io::Error::last_os_error());
            if sll.sll_pkttype != PACKET_OUTGOING {
                return Some(buf[..n as usize].to_vec());
            }
        }
    }

    /// Drains every frame already queued.
    pub fn drain(&self) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| self.recv(Duration::ZERO)).collect()
    }
}
