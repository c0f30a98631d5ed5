//! Hot-path benchmarks: stateless token verification and database-backed `get_session`
//! against a SQLite file with a warm pool.
//!
//! ```text
//! cargo bench -p tollbooth-auth --bench session
//! ```

use criterion::{Criterion, criterion_group, criterion_main};
use tollbooth_auth::{Auth, AuthConfig, RequestInfo, SignInOutcome, SigningKey};
use tollbooth_db::{AccountRepo, NewAccount, NewUser, UserRepo};
use tollbooth_email::{Mailer, MailerConfig, OutboxSender};

const PASSWORD: &str = "correct horse battery staple";

/// A signed-in session on a migrated SQLite file: the service and the cookie header.
async fn signed_in(dir: &std::path::Path) -> (Auth, Vec<(String, String)>) {
    let url = format!("sqlite://{}?mode=rwc", dir.join("bench.db").display());
    let db = tollbooth_db::connect(url).await.unwrap();
    db.migrate().await.unwrap();
    let user = db
        .create_user(NewUser::new("ada@example.com").verified_at(tollbooth_db::now()))
        .await
        .unwrap();
    db.create_account(NewAccount::credential(
        user.id,
        bcrypt::hash(PASSWORD, 12).unwrap(),
    ))
    .await
    .unwrap();
    let config = AuthConfig::builder("https://app.acme.example")
        .signing_key(SigningKey::new("k1", [7u8; 32]).unwrap())
        .build()
        .unwrap();
    let mailer = Mailer::new(
        OutboxSender::new(),
        MailerConfig::new("noreply@acme.example", "Acme").unwrap(),
    );
    let auth = Auth::new(db, mailer, config);
    let no_headers: [(&str, &str); 0] = [];
    let request = RequestInfo::without_ip(&no_headers);
    let SignInOutcome::SignedIn(signed_in) = auth
        .sign_in("ada@example.com", PASSWORD, &request)
        .await
        .unwrap()
    else {
        unreachable!()
    };
    let pair = signed_in
        .cookie
        .as_str()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    (auth, vec![("cookie".to_owned(), pair)])
}

fn session(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (auth, headers) = runtime.block_on(signed_in(dir.path()));
    let token = headers[0].1.split_once('=').unwrap().1.to_owned();

    c.bench_function("verify_session_token (stateless)", |b| {
        b.iter(|| {
            auth.verify_session_token(std::hint::black_box(&token))
                .unwrap()
        });
    });
    // Measured inside the runtime, as a server handler awaits it (criterion's per-iteration
    // `block_on` from a foreign thread would add a cross-thread wake-up to every sample).
    c.bench_function("get_session (SQLite, warm pool)", |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let (auth, headers) = (auth.clone(), headers.clone());
            async move {
                let started = std::time::Instant::now();
                for _ in 0..iters {
                    let session = auth.get_session(&headers).await.unwrap();
                    assert!(session.is_some());
                }
                started.elapsed()
            }
        });
    });
    c.bench_function("find_session_with_user (SQLite query alone)", |b| {
        use tollbooth_db::SessionRepo;
        let sid = runtime
            .block_on(auth.get_session(&headers))
            .unwrap()
            .unwrap()
            .session
            .id;
        b.to_async(&runtime).iter_custom(|iters| {
            let db = auth.db().clone();
            async move {
                let started = std::time::Instant::now();
                for _ in 0..iters {
                    assert!(db.find_session_with_user(sid).await.unwrap().is_some());
                }
                started.elapsed()
            }
        });
    });
}

criterion_group!(benches, session);
criterion_main!(benches);
