//! Web frameworks run handlers on multi-threaded runtimes and require `Send` futures: every
//! public async operation must produce one. This test fails to compile if one does not.
#![allow(clippy::let_underscore_future)]

use tollbooth_auth::*;

fn send<T: Send>(_: T) {}

#[allow(dead_code)]
fn every_future_is_send(auth: &Auth, session: &Session, headers: &http::HeaderMap) {
    let request = RequestInfo::without_ip(headers);
    send(auth.sign_up("a", "b", None, &request));
    send(auth.sign_in("a", "b", &request));
    send(auth.get_session(headers));
    send(auth.require_auth(headers));
    send(auth.require_role(headers, &Role::ADMIN));
    send(auth.sign_out(headers));
    send(auth.sign_out_everywhere(session, &request));
    send(auth.list_sessions(session));
    send(auth.revoke_session(session, uuid::Uuid::nil(), &request));
    send(auth.verify_email("t"));
    send(auth.resend_verification("e", &request));
    send(auth.request_password_reset("e", &request));
    send(auth.reset_password("t", "p", &request));
    send(auth.request_password_setup(session, &request));
    send(auth.request_email_change(session, "e", &request));
    send(auth.confirm_email_change("t", &request));
    send(auth.change_password(session, "a", "b", &request));
    send(auth.oauth_authorize(Provider::GitHub, None));
    send(auth.oauth_link(session, Provider::Google, None));
    send(auth.oauth_callback(Provider::GitHub, &OAuthCallback::default(), &request));
    send(auth.oauth_unlink(session, Provider::GitHub, &request));
    send(auth.mfa_enroll(session));
    send(auth.mfa_confirm(session, "c", &request));
    send(auth.mfa_verify("c", "c", &request));
    send(auth.mfa_disable(session, "c", &request));
    send(auth.mfa_regenerate_backup_codes(session, "c", &request));
    send(auth.mfa_status(session));
    send(auth.reauthenticate(session, Some("p"), None));
    send(auth.report_unauthorized_change("t", &request));
    send(auth.flush_background_tasks());
    send(auth.security_activity(session, None, 10));
    let users = auth.user_admin(session, &request).unwrap();
    let id = uuid::Uuid::nil();
    send(users.list_users(&tollbooth_db::UserQuery::default(), 10));
    send(users.user(id));
    send(users.ban(id, Ban::new()));
    send(users.unban(id));
    send(users.set_role(id, &Role::ADMIN));
    send(users.revoke_sessions(id));
    send(users.security_events(&tollbooth_db::SecurityEventQuery::default(), 10));
}

#[test]
fn compiles() {}
