//! Caller authentication, Palette user tokens, permissions and the audit log.

pub mod permissions;
