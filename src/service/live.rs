//! Live calls to Palette as the caller's Palette user (or with the environment's key).

use super::Ctx;
use crate::error::AppError;
use crate::palette::client::{Answer, Call, Listing};
use crate::palette::{PaletteError, Retries};

impl Ctx {
    /// Sends a call with the user's token (or the key), retrying only what a waiting caller
    /// can afford; a token Palette rejects is evicted and re-auth is asked for.
    pub async fn send(&self, call: Call<'_>) -> Result<Answer, AppError> {
        call.credential(self.user.credential())
            .party(self.user.party())
            .retries(Retries::Interactive)
            .send()
            .await
            .map_err(|e| self.failed(e))
    }

    /// Every page of a list call, as [`Ctx::send`] sends one call.
    pub async fn pages(&self, call: Call<'_>) -> Result<Listing, AppError> {
        call.credential(self.user.credential())
            .party(self.user.party())
            .retries(Retries::Interactive)
            .pages()
            .await
            .map_err(|e| self.failed(e))
    }

    /// A Palette failure as ours; a user token Palette rejected is evicted, re-auth asked for.
    pub fn failed(&self, e: PaletteError) -> AppError {
        if matches!(e, PaletteError::Unauthorized { .. }) && self.user.has_token() {
            self.user.rejected(&self.state.tokens);
        }
        AppError::from(e)
    }

    /// A GET of `path` in `project`'s scope, sent live; Palette's answer passed on as is.
    pub async fn get_live(
        &self,
        path: String,
        project: Option<&str>,
    ) -> Result<super::Answer, AppError> {
        let answer = self
            .send(self.env.client.get(path).project(project))
            .await?;
        Ok(super::Answer::live_bytes(answer.body))
    }
}
