//! Answers: from the mirror (`X-SpectroCloud-Source: mirror`, `-Synced-At`, `-Stale`) or live
//! from Palette (`X-SpectroCloud-Source: live`), and Palette failures mapped to honest statuses.

use actix_web::HttpResponse;
use actix_web::http::header::ContentType;
use serde::Serialize;

use super::extract::{Live, Mirror};
use crate::auth::scope::{Filter, Kind};
use crate::error::AppError;
use crate::palette::client::{Answer, Call, Listing};
use crate::palette::{PaletteError, Retries};
use crate::store::{Listed, Page, json_object, list_json};

pub const SOURCE: &str = "x-spectrocloud-source";
pub const SYNCED_AT: &str = "x-spectrocloud-synced-at";
pub const STALE: &str = "x-spectrocloud-stale";

impl Mirror {
    pub fn filter(&self, kind: Kind) -> Filter {
        self.vis.filter(kind)
    }

    /// Whether an object of `kind` owned by `owner` (None = tenant) may be shown: the caller
    /// sees it, and with `projectUid` it belongs to that project or to the tenant (as Palette
    /// answers under a `ProjectUid` header).
    pub fn shows(&self, kind: Kind, owner: Option<&str>, asked: Option<&str>) -> bool {
        let elsewhere = matches!((asked, owner), (Some(p), Some(q)) if p != q);
        self.vis.sees(kind, owner) && !elsewhere
    }

    fn builder(&self) -> actix_web::HttpResponseBuilder {
        let mut b = HttpResponse::Ok();
        b.insert_header((SOURCE, "mirror"));
        if let Some(t) = self.freshness.synced_at {
            b.insert_header((
                SYNCED_AT,
                t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ));
        }
        if self.freshness.stale {
            b.insert_header((STALE, "true"));
        }
        b
    }

    /// A JSON answer from stored JSON text (not parsed again).
    pub fn raw(&self, body: String) -> HttpResponse {
        self.builder().content_type(ContentType::json()).body(body)
    }

    /// `{"<key>": [stored items...]}`.
    pub fn list(&self, key: &str, items: &[String]) -> HttpResponse {
        self.raw(crate::store::json_list(key, items))
    }

    pub fn json<T: Serialize>(&self, body: &T) -> HttpResponse {
        self.builder().json(body)
    }

    /// `{"<key>": [...]}` of a listed kind the caller may see.
    pub async fn listed(
        &self,
        key: &str,
        what: Listed,
        kind: Kind,
        project: Option<&str>,
        page: Page,
    ) -> Result<HttpResponse, AppError> {
        let array = list_json(
            &self.state.db,
            what,
            self.env.name(),
            project,
            &self.filter(kind),
            page,
        )
        .await?;
        Ok(self.raw(json_object(key, &array)))
    }
}

impl Live {
    /// Sends a call with the user's token (or the key), retrying only what a waiting caller
    /// can afford; a token Palette rejects is evicted and re-auth is asked for.
    pub async fn send(&self, call: Call<'_>) -> Result<Answer, AppError> {
        call.credential(self.user.credential())
            .retries(Retries::Interactive)
            .send()
            .await
            .map_err(|e| self.failed(e))
    }

    /// Every page of a list call, as [`Live::send`] sends one call.
    pub async fn pages(&self, call: Call<'_>) -> Result<Listing, AppError> {
        call.credential(self.user.credential())
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

    pub fn json_bytes(body: Vec<u8>) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header((SOURCE, "live"))
            .content_type(ContentType::json())
            .body(body)
    }

    pub fn json<T: Serialize>(body: &T) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header((SOURCE, "live"))
            .json(body)
    }
}

/// 404 for an object that is not in the mirror or not visible to the caller (the two are not
/// told apart, so nothing leaks).
pub fn not_found(what: &str) -> AppError {
    AppError::not_found(format!("{what} not found"))
}
