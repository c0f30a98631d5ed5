//! The admin area: the server's routes take `RequireRole<Admin>`, so only admins get here.

use tollbooth_auth::Session;

use super::Answer;
use crate::reply::Reply;
use crate::wire::*;

/// `GET /admin/stats`: admins only.
#[utoipa::path(
    get,
    path = "/admin/stats",
    tag = "admin",
    responses((status = 200, description = "admins only", body = AdminStatsReply))
)]
pub fn admin_stats(admin: &Session) -> Answer<AdminStatsReply> {
    Ok(Reply::ok(AdminStatsReply {
        admin: admin.user.email.clone(),
        status: "ok",
    }))
}
