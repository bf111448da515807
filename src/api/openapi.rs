//! `GET /openapi.json`: this API as OpenAPI 3.0, generated from the route table.

use actix_web::{HttpResponse, web};
use serde_json::{Map, Value, json};

use super::routes::{Access, ROUTES, RouteSpec};
use crate::service::AppState;

fn parameters(r: &RouteSpec) -> Vec<Value> {
    let path = r.path;
    let mut out: Vec<Value> = path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
        .collect();
    if path != "/health" {
        // Every query parameter the route accepts (cached routes refuse any other).
        for name in r.accepted() {
            let schema = match name {
                "limit" | "offset" => json!({ "type": "integer", "minimum": 0 }),
                _ => json!({ "type": "string" }),
            };
            let mut p = json!({ "name": name, "in": "query", "required": false, "schema": schema });
            if name == "instance" {
                p["description"] = json!("environment name; the first configured one when absent");
            }
            out.push(p);
        }
    }
    out
}

pub async fn document(state: web::Data<AppState>) -> HttpResponse {
    let mut paths: Map<String, Value> = Map::new();
    for r in ROUTES {
        let entry = paths.entry(r.path.to_string()).or_insert_with(|| json!({}));
        let (security, permission) = match r.access {
            Access::Public => (json!([]), Value::Null),
            Access::Authenticated => (json!([{ "bearer": [] }]), Value::Null),
            Access::Permission(p) => (json!([{ "bearer": [] }]), json!(p.id())),
        };
        entry[r.method.to_ascii_lowercase()] = json!({
            "summary": r.summary,
            "parameters": parameters(r),
            "security": security,
            "x-permission": permission,
            "x-source": r.source,
            "responses": {
                "200": { "description": "success" },
                "default": { "description": "error", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            }
        });
    }
    HttpResponse::Ok().json(json!({
        "openapi": "3.0.3",
        "info": { "title": "spectrocloud-backend", "version": env!("CARGO_PKG_VERSION") },
        "servers": [{ "url": state.config.server.base_path }],
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": { "Error": { "type": "object", "required": ["error", "code"],
                "properties": { "error": { "type": "string" }, "code": { "type": "string" }, "permission": { "type": "string" } } } }
        }
    }))
}
