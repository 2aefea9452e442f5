//! Batched UDP syscalls: `recvmmsg` and `sendmmsg` on Linux, one datagram per call elsewhere.
//!
//! This is the crate's only module with `unsafe`: the two syscalls need raw `mmsghdr` arrays.
//! Everything is preallocated when a batch is built (buffers, address storage, iovecs), so a
//! receive or send of up to [`BATCH`] datagrams allocates nothing. The sockets must be
//! non-blocking; both calls return `WouldBlock` when there is nothing to do, which is how the
//! tokio readiness loop in `io.rs` drives them. GRO is deliberately not enabled: each buffer
//! holds exactly one datagram, so buffers stay at one MTU instead of 64 KiB.
#![allow(unsafe_code)]
// Parallel fixed-size arrays (buffers, addresses, iovecs, headers) are filled slot by slot;
// an index loop says that more plainly than four zipped iterators.
#![allow(clippy::needless_range_loop)]

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::RawFd;

/// Datagrams per syscall. 32 matches the kernel's default `UIO_MAXIOV`-friendly batch used by
/// quinn; beyond that the gain per syscall is small and the buffer memory grows.
pub const BATCH: usize = 32;
/// Size of each receive buffer: the largest datagram we ever accept plus one byte, so an
/// oversized datagram is seen as oversized rather than silently truncated to a valid length.
pub const BUF_LEN: usize = 1_500;

/// Preallocated buffers for one `recvmmsg`.
pub struct RecvBatch {
    bufs: Box<[[u8; BUF_LEN]]>,
    addrs: Box<[libc::sockaddr_storage]>,
    lens: [usize; BATCH],
    count: usize,
}

impl Default for RecvBatch {
    fn default() -> Self {
        RecvBatch {
            bufs: vec![[0u8; BUF_LEN]; BATCH].into_boxed_slice(),
            // SAFETY: sockaddr_storage is plain old data; all-zero is a valid (AF_UNSPEC) value.
            addrs: vec![unsafe { std::mem::zeroed::<libc::sockaddr_storage>() }; BATCH]
                .into_boxed_slice(),
            lens: [0; BATCH],
            count: 0,
        }
    }
}

impl RecvBatch {
    /// Datagrams received by the last call.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when the last call received nothing.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The `i`-th datagram and its source, or `None` past the end or for a source address
    /// family we do not speak.
    pub fn get(&self, i: usize) -> Option<(&[u8], SocketAddr)> {
        if i >= self.count {
            return None;
        }
        let addr = from_storage(&self.addrs[i])?;
        Some((&self.bufs[i][..self.lens[i].min(BUF_LEN)], addr))
    }

    /// Mutable access to the `i`-th buffer (for in-place sealing before forwarding).
    pub fn buf_mut(&mut self, i: usize) -> &mut [u8; BUF_LEN] {
        &mut self.bufs[i]
    }

    /// Receives up to [`BATCH`] datagrams without blocking.
    pub fn recv(&mut self, fd: RawFd) -> io::Result<usize> {
        self.count = 0;
        let n = recv_impl(fd, self)?;
        self.count = n;
        Ok(n)
    }
}

/// Preallocated buffers for one `sendmmsg`.
pub struct SendBatch {
    bufs: Box<[[u8; BUF_LEN]]>,
    dests: Box<[libc::sockaddr_storage]>,
    dest_lens: [libc::socklen_t; BATCH],
    lens: [usize; BATCH],
    count: usize,
}

impl Default for SendBatch {
    fn default() -> Self {
        SendBatch {
            bufs: vec![[0u8; BUF_LEN]; BATCH].into_boxed_slice(),
            // SAFETY: as above, all-zero sockaddr_storage is valid.
            dests: vec![unsafe { std::mem::zeroed::<libc::sockaddr_storage>() }; BATCH]
                .into_boxed_slice(),
            dest_lens: [0; BATCH],
            lens: [0; BATCH],
            count: 0,
        }
    }
}

impl SendBatch {
    /// Queued datagrams.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// True when no more datagrams fit.
    pub fn is_full(&self) -> bool {
        self.count == BATCH
    }

    /// Reserves the next slot for a datagram to `dest`; the caller writes up to [`BUF_LEN`]
    /// bytes into the returned buffer and then calls [`SendBatch::commit`] with the length.
    /// `None` when the batch is full.
    pub fn slot(&mut self, dest: SocketAddr) -> Option<&mut [u8; BUF_LEN]> {
        if self.count == BATCH {
            return None;
        }
        self.dest_lens[self.count] = to_storage(dest, &mut self.dests[self.count]);
        self.lens[self.count] = 0;
        Some(&mut self.bufs[self.count])
    }

    /// Commits the slot last returned by [`SendBatch::slot`] with `len` bytes.
    pub fn commit(&mut self, len: usize) {
        if self.count < BATCH {
            self.lens[self.count] = len.min(BUF_LEN);
            self.count += 1;
        }
    }

    /// Sends all queued datagrams. Returns how many the kernel took; the rest stay queued
    /// (in order) for the next call. `WouldBlock` when the socket buffer is full.
    pub fn flush(&mut self, fd: RawFd) -> io::Result<usize> {
        if self.count == 0 {
            return Ok(0);
        }
        let sent = send_impl(fd, self)?;
        if sent < self.count {
            // Shift the unsent tail to the front; rare (only under send-buffer pressure).
            for (to, from) in (sent..self.count).enumerate() {
                self.bufs.swap(to, from);
                self.dests.swap(to, from);
                self.dest_lens.swap(to, from);
                self.lens.swap(to, from);
            }
        }
        self.count -= sent;
        Ok(sent)
    }

    /// Forgets everything queued (after an unrecoverable send error).
    pub fn clear(&mut self) {
        self.count = 0;
    }
}

fn to_storage(addr: SocketAddr, out: &mut libc::sockaddr_storage) -> libc::socklen_t {
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is large and aligned enough for any sockaddr_*; we write
            // a complete sockaddr_in at its start.
            unsafe { std::ptr::write((out as *mut libc::sockaddr_storage).cast(), sin) };
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: as above, for sockaddr_in6.
            unsafe { std::ptr::write((out as *mut libc::sockaddr_storage).cast(), sin6) };
            std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t
        }
    }
}

fn from_storage(s: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(s.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in written by the kernel.
            let sin: libc::sockaddr_in =
                unsafe { std::ptr::read((s as *const libc::sockaddr_storage).cast()) };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes()),
                u16::from_be(sin.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says the storage holds a sockaddr_in6 written by the kernel.
            let sin6: libc::sockaddr_in6 =
                unsafe { std::ptr::read((s as *const libc::sockaddr_storage).cast()) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                u16::from_be(sin6.sin6_port),
                sin6.sin6_flowinfo,
                sin6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(target_os = "linux")]
fn recv_impl(fd: RawFd, b: &mut RecvBatch) -> io::Result<usize> {
    // SAFETY: zeroed iovec/mmsghdr are valid; every pointer set below points into `b`, which
    // outlives the syscall, and each length matches its buffer.
    unsafe {
        let mut iovs: [libc::iovec; BATCH] = std::mem::zeroed();
        let mut hdrs: [libc::mmsghdr; BATCH] = std::mem::zeroed();
        for i in 0..BATCH {
            iovs[i].iov_base = b.bufs[i].as_mut_ptr().cast();
            iovs[i].iov_len = BUF_LEN;
            hdrs[i].msg_hdr.msg_name = (&mut b.addrs[i] as *mut libc::sockaddr_storage).cast();
            hdrs[i].msg_hdr.msg_namelen =
                std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        let n = libc::recvmmsg(
            fd,
            hdrs.as_mut_ptr(),
            BATCH as libc::c_uint,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        );
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let n = n as usize;
        for i in 0..n {
            // A truncated datagram reports its full length; keep it above any valid packet
            // length so the parser refuses it as too long.
            b.lens[i] = if hdrs[i].msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                BUF_LEN
            } else {
                hdrs[i].msg_len as usize
            };
        }
        Ok(n)
    }
}

#[cfg(target_os = "linux")]
fn send_impl(fd: RawFd, b: &mut SendBatch) -> io::Result<usize> {
    // SAFETY: as in recv_impl; `count` slots were filled by `slot`/`commit`.
    unsafe {
        let mut iovs: [libc::iovec; BATCH] = std::mem::zeroed();
        let mut hdrs: [libc::mmsghdr; BATCH] = std::mem::zeroed();
        for i in 0..b.count {
            iovs[i].iov_base = b.bufs[i].as_mut_ptr().cast();
            iovs[i].iov_len = b.lens[i];
            hdrs[i].msg_hdr.msg_name = (&mut b.dests[i] as *mut libc::sockaddr_storage).cast();
            hdrs[i].msg_hdr.msg_namelen = b.dest_lens[i];
            hdrs[i].msg_hdr.msg_iov = &mut iovs[i];
            hdrs[i].msg_hdr.msg_iovlen = 1;
        }
        let n = libc::sendmmsg(
            fd,
            hdrs.as_mut_ptr(),
            b.count as libc::c_uint,
            libc::MSG_DONTWAIT,
        );
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

#[cfg(not(target_os = "linux"))]
fn recv_impl(fd: RawFd, b: &mut RecvBatch) -> io::Result<usize> {
    // Portable fallback: one datagram per call through std (no unsafe needed beyond the fd).
    use std::os::fd::FromRawFd;
    let sock = std::mem::ManuallyDrop::new(unsafe { std::net::UdpSocket::from_raw_fd(fd) });
    let (len, addr) = sock.recv_from(&mut b.bufs[0])?;
    b.lens[0] = len;
    to_storage(addr, &mut b.addrs[0]);
    Ok(1)
}

#[cfg(not(target_os = "linux"))]
fn send_impl(fd: RawFd, b: &mut SendBatch) -> io::Result<usize> {
    use std::os::fd::FromRawFd;
    let sock = std::mem::ManuallyDrop::new(unsafe { std::net::UdpSocket::from_raw_fd(fd) });
    let addr = from_storage(&b.dests[0]).ok_or(io::ErrorKind::InvalidInput)?;
    sock.send_to(&b.bufs[0][..b.lens[0]], addr)?;
    Ok(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn batch_round_trip_on_loopback_v4_and_v6() {
        for bind in ["127.0.0.1:0", "[::1]:0"] {
            let a = std::net::UdpSocket::bind(bind).unwrap();
            let b = std::net::UdpSocket::bind(bind).unwrap();
            a.set_nonblocking(true).unwrap();
            b.set_nonblocking(true).unwrap();
            let mut out = SendBatch::default();
            for i in 0..BATCH {
                let slot = out.slot(b.local_addr().unwrap()).unwrap();
                slot[..3].copy_from_slice(&[i as u8, 1, 2]);
                out.commit(3 + i);
            }
            assert!(out.is_full());
            assert!(out.slot(b.local_addr().unwrap()).is_none());
            assert_eq!(out.flush(a.as_raw_fd()).unwrap(), BATCH);
            assert!(out.is_empty());
            let mut inb = RecvBatch::default();
            let mut got = 0;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
            while got < BATCH && std::time::Instant::now() < deadline {
                match inb.recv(b.as_raw_fd()) {
                    Ok(n) => {
                        for i in 0..n {
                            let (data, from) = inb.get(i).unwrap();
                            assert_eq!(from, a.local_addr().unwrap());
                            assert_eq!(data.len(), 3 + got + i);
                            assert_eq!(data[0] as usize, got + i);
                        }
                        got += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(std::time::Duration::from_millis(1))
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            assert_eq!(got, BATCH);
            assert!(inb.get(BATCH).is_none());
            assert_eq!(
                inb.recv(b.as_raw_fd()).unwrap_err().kind(),
                io::ErrorKind::WouldBlock
            );
        }
    }

    #[test]
    fn oversized_datagram_is_reported_too_long() {
        let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        b.set_nonblocking(true).unwrap();
        a.send_to(&[7u8; 4000], b.local_addr().unwrap()).unwrap();
        let mut inb = RecvBatch::default();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            match inb.recv(b.as_raw_fd()) {
                Ok(_) => break,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(1))
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(inb.get(0).unwrap().0.len(), BUF_LEN);
    }
}
