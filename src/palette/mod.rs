//! The Palette REST client.

mod error;

pub use error::PaletteError;
