//! The Palette REST client, the configured environments, and what the service knows of
//! Palette's JSON.

pub mod client;
mod environment;
mod error;
pub mod models;

pub use client::{Credential, Listing, PaletteClient, Retries};
pub use environment::{Environment, Environments};
pub use error::PaletteError;
