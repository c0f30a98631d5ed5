//! Webhook throughput: signature verification + exactly-once apply on a SQLite file, with
//! 20% of deliveries duplicates.
//!
//! ```text
//! cargo bench -p tollbooth-billing --bench webhooks
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use tollbooth_billing::{
    Billing, BillingConfig, Plan, StripeSecretKey, WebhookSecret, sign_stripe_webhook,
};
use tollbooth_db::{NewUser, UserRepo};
use tollbooth_email::{Mailer, MailerConfig, OutboxSender};

const SECRET: &str = "whsec_bench";
const CUSTOMERS: usize = 100;

static NEXT_EVENT: AtomicU64 = AtomicU64::new(0);

/// `n` signed deliveries of subscription updates, every fifth one a redelivery.
fn deliveries(n: u64) -> Vec<(Vec<u8>, String)> {
    let now = tollbooth_db::now().timestamp();
    let secret = WebhookSecret::new(SECRET);
    let mut out: Vec<(Vec<u8>, String)> = Vec::with_capacity(n as usize);
    for i in 0..n {
        if i % 5 == 4 {
            out.push(out[out.len() - 2].clone());
            continue;
        }
        let seq = NEXT_EVENT.fetch_add(1, Ordering::Relaxed);
        let customer = seq as usize % CUSTOMERS;
        let event = json!({
            "id": format!("evt_{seq}"), "object": "event", "type": "customer.subscription.updated",
            "created": 1_764_000_000 + seq as i64,
            "data": { "object": {
                "id": format!("sub_{customer}"), "object": "subscription", "customer": format!("cus_{customer}"),
                "status": "active", "cancel_at_period_end": false, "current_period_end": 1_800_000_000,
                "items": { "object": "list", "data": [{ "price": { "id": "price_pro" }, "quantity": 1 }] },
                "metadata": {}
            }}
        });
        let payload = serde_json::to_vec(&event).unwrap();
        let header = sign_stripe_webhook(&payload, &secret, now);
        out.push((payload, header));
    }
    out
}

fn webhooks(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let billing = runtime.block_on(async {
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        );
        let db = tollbooth_db::connect(url).await.unwrap();
        db.migrate().await.unwrap();
        for i in 0..CUSTOMERS {
            let user = db
                .create_user(NewUser::new(format!("u{i}@example.com")))
                .await
                .unwrap();
            db.set_stripe_customer_id(user.id, &format!("cus_{i}"))
                .await
                .unwrap();
        }
        let config =
            BillingConfig::builder(StripeSecretKey::new("sk_test"), "https://app.example.com")
                .plan(Plan::new("pro", "Pro").monthly_price("price_pro"))
                .webhook_secret(WebhookSecret::new(SECRET))
                .build()
                .unwrap();
        let mailer = Mailer::new(
            OutboxSender::new(),
            MailerConfig::new("b@example.com", "Bench").unwrap(),
        );
        Billing::new(db, mailer, config).unwrap()
    });

    let mut group = c.benchmark_group("stripe webhooks (SQLite, 20% duplicates)");
    group.throughput(Throughput::Elements(1));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("verify + apply", |b| {
        b.to_async(&runtime).iter_custom(|iters| {
            let billing = billing.clone();
            async move {
                let batch = deliveries(iters);
                let started = Instant::now();
                for (payload, header) in &batch {
                    billing
                        .handle_stripe_webhook(payload, Some(header), tollbooth_db::now())
                        .await
                        .unwrap();
                }
                started.elapsed()
            }
        });
    });
    group.finish();
}

criterion_group!(benches, webhooks);
criterion_main!(benches);
