//! A set of ports as a file: `apply FILE.toml` makes the machine match it, changing only what
//! differs; `export` writes the running state as such a file (applying an export changes
//! nothing). A listed interface is described in full: what the file leaves out takes its
//! default (MTU 1500, feth's media, no impairment, unpeered unless a `[[peer]]` names it).
//! A pair the file peers is set up, as `up` does; interfaces it does not list are left alone
//! (`--prune` destroys them).
//!
//! ```toml
//! [interface.feth0]
//! netns = "left"
//! mtu = 9000
//! impair = { loss = "1%", rate = "100mbit" }
//!
//! [interface.feth1]
//! netns = "right"
//!
//! [[peer]]
//! a = "feth0"
//! b = "feth1"
//! mode = "tc"
//!
//! [interface.feth2]
//! remote = { addr = "198.18.9.2", vni = 100, dev = "ul0" }   # a peer on another host
//! ```
pub mod apply;
pub mod check;
pub mod file;
pub mod plan;

pub use apply::apply;
pub use file::{Topology, export};
pub use plan::Change;
