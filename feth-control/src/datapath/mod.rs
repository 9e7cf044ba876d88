//! The kernel objects feth makes for its ports: veth pairs, the pinned maps, programs and
//! links of the crossover, the VXLAN devices of remote peers and the shaping qdiscs. Each is a
//! cache of the records (`crate::port::record`) and can be rebuilt from them.
pub mod attach;
pub mod capture_switch;
pub mod crossover;
pub mod legacy;
pub mod load;
pub mod pair;
pub mod pins;
pub mod shaper;
pub mod tunnel;
