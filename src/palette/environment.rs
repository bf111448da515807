//! The configured Palette environments, each with its client. The `instance` query parameter
//! selects one by name; the first is the default.

use std::sync::Arc;

use super::{PaletteClient, PaletteError};
use crate::config::{Config, EnvironmentConfig};

pub struct Environment {
    pub config: EnvironmentConfig,
    pub client: PaletteClient,
}

impl Environment {
    pub fn name(&self) -> &str {
        &self.config.name
    }
}

#[derive(Clone, Default)]
pub struct Environments {
    list: Vec<Arc<Environment>>,
    /// This application's metrics label (see `recorder`).
    app: String,
}

impl Environments {
    pub fn new(config: &Config) -> Result<Environments, PaletteError> {
        let app = crate::recorder::next_app();
        let list = config
            .environments
            .iter()
            .map(|e| {
                Ok(Arc::new(Environment {
                    config: e.clone(),
                    client: PaletteClient::new(e, &config.sync, &app)?,
                }))
            })
            .collect::<Result<_, PaletteError>>()?;
        Ok(Environments { list, app })
    }

    /// The metrics label of the application these environments belong to.
    pub fn app(&self) -> &str {
        &self.app
    }

    /// By name, or the first when `name` is `None`.
    pub fn get(&self, name: Option<&str>) -> Option<&Arc<Environment>> {
        match name {
            None => self.list.first(),
            Some(n) => self.list.iter().find(|e| e.name() == n),
        }
    }

    pub fn all(&self) -> &[Arc<Environment>] {
        &self.list
    }
}
