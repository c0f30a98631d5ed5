//! Second factors: TOTP enrollment, backup codes.

use tollbooth_auth::{RequestInfo, Session};

use super::Answer;
use crate::App;
use crate::reply::Reply;
use crate::wire::*;

/// `GET /auth/mfa`: whether TOTP is on, and the backup codes left.
#[utoipa::path(
    get,
    path = "/auth/mfa",
    tag = "mfa",
    responses((status = 200, description = "status", body = MfaStatusReply))
)]
pub async fn mfa_status(app: &App, session: &Session) -> Answer<MfaStatusReply> {
    let status = app.auth.mfa_status(session).await?;
    Ok(Reply::ok(MfaStatusReply::from(status)))
}

/// `POST /auth/mfa/enroll`: a pending TOTP secret (fresh session).
#[utoipa::path(
    post,
    path = "/auth/mfa/enroll",
    tag = "mfa",
    responses((status = 200, description = "a pending enrollment", body = MfaEnrollReply))
)]
pub async fn mfa_enroll(app: &App, session: &Session) -> Answer<MfaEnrollReply> {
    let enrollment = app.auth.mfa_enroll(session).await?;
    Ok(Reply::ok(MfaEnrollReply::from(enrollment)))
}

/// `POST /auth/mfa/confirm`: turns TOTP on with a first code; answers the backup codes, once.
#[utoipa::path(
    post,
    path = "/auth/mfa/confirm",
    tag = "mfa",
    request_body = CodeBody,
    responses((status = 200, description = "MFA on; backup codes shown once", body = BackupCodesReply))
)]
pub async fn mfa_confirm(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    body: CodeBody,
) -> Answer<BackupCodesReply> {
    let codes = app.auth.mfa_confirm(session, &body.code, request).await?;
    Ok(Reply::ok(BackupCodesReply {
        backup_codes: codes.0,
    }))
}

/// `POST /auth/mfa/disable`: turns TOTP off, re-verified by a code.
#[utoipa::path(
    post,
    path = "/auth/mfa/disable",
    tag = "mfa",
    request_body = CodeBody,
    responses((status = 204, description = "MFA off"))
)]
pub async fn mfa_disable(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    body: CodeBody,
) -> Answer {
    app.auth.mfa_disable(session, &body.code, request).await?;
    Ok(Reply::no_content())
}

/// `POST /auth/mfa/backup-codes`: new backup codes, re-verified by a code.
#[utoipa::path(
    post,
    path = "/auth/mfa/backup-codes",
    tag = "mfa",
    request_body = CodeBody,
    responses((status = 200, description = "new backup codes", body = BackupCodesReply))
)]
pub async fn mfa_backup_codes(
    app: &App,
    session: &Session,
    request: &RequestInfo<'_>,
    body: CodeBody,
) -> Answer<BackupCodesReply> {
    let codes = app
        .auth
        .mfa_regenerate_backup_codes(session, &body.code, request)
        .await?;
    Ok(Reply::ok(BackupCodesReply {
        backup_codes: codes.0,
    }))
}
