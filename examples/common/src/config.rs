//! Configuration from environment variables (and an optional `.env`), all documented in
//! `.env.example`. With none set, the server still starts: SQLite in the working
//! directory, console e-mail, generated development keys, and billing, OAuth and Cal.com
//! answering "not configured".

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tollbooth_auth::{
    Auth, AuthConfig, ClientSecret, DomainEvent, EncryptionKey, HookError, Hooks, MfaConfig,
    ProviderConfig, SigningKey, TrustedProxies,
};
use tollbooth_billing::{
    Billing, BillingConfig, CalcomApiKey, CalcomConfig, EVENT_TYPE_METADATA_KEY, PaymentCheckout,
    Plan, StripeSecretKey, WebhookSecret,
};
use tollbooth_db::{Db, DbConfig};
use tollbooth_email::{
    ApiKey, ConsoleSender, EmailSender, Mailer, MailerConfig, ResendConfig, ResendSender,
};

use crate::App;

/// Why the server could not start (printed, then the process exits with status 1).
#[derive(Debug)]
pub struct StartupError(pub String);

impl std::fmt::Display for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StartupError {}

fn fail(what: &str, error: impl std::fmt::Display) -> StartupError {
    StartupError(format!("{what}: {error}"))
}

/// Reads a variable; empty counts as unset.
fn var(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The plans on sale: `BILLING_PLANS` (`id:Name` pairs, default `pro:Pro,enterprise:Enterprise`),
/// each with `STRIPE_PRICE_<ID>` (monthly), `STRIPE_PRICE_<ID>_YEARLY`,
/// `STRIPE_LEGACY_PRICES_<ID>` (comma-separated), `STRIPE_PRODUCT_<ID>`,
/// `BILLING_PER_SEAT_<ID>=true` (billed per organization member) and
/// `BILLING_SEAT_LIMIT_<ID>` (seats allowed; `BILLING_SEAT_LIMIT_FREE` for organizations
/// without a subscription). The library knows no plan names: these are this server's
/// configuration.
fn plans() -> Result<Vec<Plan>, StartupError> {
    let spec = var_or("BILLING_PLANS", "pro:Pro,enterprise:Enterprise");
    let mut plans = Vec::new();
    for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (id, name) = entry.split_once(':').unwrap_or((entry, entry));
        let key = id.trim().to_ascii_uppercase().replace('-', "_");
        let mut plan = Plan::new(id.trim(), name.trim());
        if let Some(price) = var(&format!("STRIPE_PRICE_{key}")) {
            plan = plan.monthly_price(price);
        }
        if let Some(price) = var(&format!("STRIPE_PRICE_{key}_YEARLY")) {
            plan = plan.yearly_price(price);
        }
        for price in list(&format!("STRIPE_LEGACY_PRICES_{key}")) {
            plan = plan.legacy_price(price);
        }
        if let Some(product) = var(&format!("STRIPE_PRODUCT_{key}")) {
            plan = plan.product(product);
        }
        let per_seat = format!("BILLING_PER_SEAT_{key}");
        if let Some(value) = var(&per_seat)
            && flag(&per_seat, &value)?
        {
            plan = plan.per_seat();
        }
        plans.push(seat_limited(plan, &key)?);
    }
    if plans.is_empty() {
        return Err(fail("BILLING_PLANS", "no plan"));
    }
    Ok(plans)
}

/// `plan` with the seat limit `BILLING_SEAT_LIMIT_<key>`, if set.
fn seat_limited(plan: Plan, key: &str) -> Result<Plan, StartupError> {
    let name = format!("BILLING_SEAT_LIMIT_{key}");
    Ok(match var(&name) {
        Some(seats) => plan.seat_limit(seats.parse().map_err(|e| fail(&name, e))?),
        None => plan,
    })
}

/// A comma-separated list (empty when unset).
fn list(name: &str) -> Vec<String> {
    var(name)
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `true`/`false` (also `1`/`0`, `on`/`off`).
fn flag(name: &str, value: &str) -> Result<bool, StartupError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "on" | "yes" => Ok(true),
        "false" | "0" | "off" | "no" => Ok(false),
        other => Err(fail(name, format!("`{other}` is not true or false"))),
    }
}

fn var_or(name: &str, default: &str) -> String {
    var(name).unwrap_or_else(|| default.to_owned())
}

/// A base64 key of at least `min` bytes, or a random one with a loud warning.
fn key_bytes(name: &str, min: usize) -> Result<Option<Vec<u8>>, StartupError> {
    let Some(encoded) = var(name) else {
        tracing::warn!(
            "{name} is not set: using a random development key. Sessions and MFA enrollments \
             do not survive a restart. NEVER run production like this."
        );
        return Ok(None);
    };
    let bytes = STANDARD
        .decode(encoded)
        .map_err(|e| fail(name, format!("not base64: {e}")))?;
    if bytes.len() < min {
        return Err(fail(
            name,
            format!("{} bytes; at least {min} are required", bytes.len()),
        ));
    }
    Ok(Some(bytes))
}

/// The server's address and its fully wired services.
#[derive(Debug)]
pub struct Server {
    /// Where to listen.
    pub bind: SocketAddr,
    /// The services.
    pub app: App,
    /// How often to purge rows past their retention (`PURGE_INTERVAL_SECONDS`, default an
    /// hour; `0`: never — run `… purge` from a scheduler instead).
    pub purge_every: Option<Duration>,
}

/// Reads the environment, connects and migrates the database, and wires everything.
pub async fn from_env() -> Result<Server, StartupError> {
    let _ = dotenvy::dotenv();
    let bind: SocketAddr = var_or("BIND", "127.0.0.1:3000")
        .parse()
        .map_err(|e| fail("BIND", e))?;
    let public_url = var_or("PUBLIC_URL", &format!("http://localhost:{}", bind.port()));

    let database_url = var_or("DATABASE_URL", "sqlite://tollbooth.db?mode=rwc");
    let mut db_config = DbConfig::new(database_url);
    if let Some(max) = var("DATABASE_MAX_CONNECTIONS") {
        let max: std::num::NonZeroU32 = max
            .parse()
            .map_err(|e| fail("DATABASE_MAX_CONNECTIONS", e))?;
        db_config = db_config.max_connections(max.get());
    }
    let db = Db::connect(db_config)
        .await
        .map_err(|e| fail("DATABASE_URL", e))?;
    db.migrate()
        .await
        .map_err(|e| fail("database migration", e))?;

    let product = var_or("PRODUCT_NAME", "Tollbooth");
    let mailer = mailer(&product)?;
    let billing = billing(db.clone(), mailer.clone(), &public_url)?;
    let auth = auth(db.clone(), mailer, &public_url, &product, billing.as_ref())?;
    let admins = var("ADMIN_EMAILS")
        .map(|list| list.split(',').map(|e| e.trim().to_lowercase()).collect())
        .unwrap_or_default();
    let mut app = App::new(auth, billing, admins, product);
    if let Some(offer) = offer(&app)? {
        app = app.offer(offer);
    }
    let purge_every = match var("PURGE_INTERVAL_SECONDS") {
        None => Some(Duration::from_secs(3600)),
        Some(seconds) => {
            let seconds: u64 = seconds
                .parse()
                .map_err(|e| fail("PURGE_INTERVAL_SECONDS", e))?;
            (seconds > 0).then(|| Duration::from_secs(seconds))
        }
    };
    Ok(Server {
        bind,
        app,
        purge_every,
    })
}

/// The one-off purchase on the pricing page: `OFFER_AMOUNT` (minor units) switches it on,
/// with `OFFER_NAME`, `OFFER_CURRENCY` and, for a paid Cal.com session,
/// `OFFER_CALCOM_EVENT_TYPE_ID`. Checked now, so a typo stops the server rather than the
/// first purchase.
fn offer(app: &App) -> Result<Option<PaymentCheckout>, StartupError> {
    let Some(amount) = var("OFFER_AMOUNT") else {
        return Ok(None);
    };
    if app.billing.is_none() {
        return Err(fail("OFFER_AMOUNT", "needs STRIPE_SECRET_KEY"));
    }
    let amount: i64 = amount.parse().map_err(|e| fail("OFFER_AMOUNT", e))?;
    let mut offer = PaymentCheckout::new(
        var_or("OFFER_NAME", "Consultation"),
        amount,
        &var_or("OFFER_CURRENCY", "usd"),
    )
    .map_err(|e| fail("OFFER_*", e))?;
    if let Some(event_type) = var("OFFER_CALCOM_EVENT_TYPE_ID") {
        let event_type: i64 = event_type
            .parse()
            .map_err(|e| fail("OFFER_CALCOM_EVENT_TYPE_ID", e))?;
        offer = offer.with_metadata(EVENT_TYPE_METADATA_KEY, event_type.to_string());
    }
    Ok(Some(offer))
}

fn mailer(product: &str) -> Result<Mailer, StartupError> {
    let from = var_or("EMAIL_FROM", &format!("{product} <onboarding@resend.dev>"));
    let mut config = MailerConfig::new(&from, product).map_err(|e| fail("EMAIL_FROM", e))?;
    if let Some(reply_to) = var("EMAIL_REPLY_TO") {
        config = config
            .reply_to(&reply_to)
            .map_err(|e| fail("EMAIL_REPLY_TO", e))?;
    }
    if let Some(worker) = var("EMAIL_OUTBOX_WORKER") {
        config.outbox.worker = flag("EMAIL_OUTBOX_WORKER", &worker)?;
    }
    let sender: std::sync::Arc<dyn EmailSender> = match var("RESEND_API_KEY") {
        Some(key) => {
            let mut resend = ResendConfig::new(ApiKey::new(key));
            if let Some(base) = var("RESEND_BASE_URL") {
                resend = resend
                    .base_url(&base)
                    .map_err(|e| fail("RESEND_BASE_URL", e))?;
            }
            ResendSender::global(resend).map_err(|e| fail("RESEND_API_KEY", e))?
        }
        None => {
            tracing::info!("RESEND_API_KEY is not set: e-mails are printed to the log");
            std::sync::Arc::new(ConsoleSender)
        }
    };
    Ok(Mailer::from_arc(sender, config))
}

/// Auth, with `billing` (when configured) cancelling a deleted account's subscriptions
/// before anything is deleted.
fn auth(
    db: Db,
    mailer: Mailer,
    public_url: &str,
    product: &str,
    billing: Option<&Billing>,
) -> Result<Auth, StartupError> {
    let kid = var_or("SESSION_KEY_ID", "v1");
    let signing = match key_bytes("SESSION_SIGNING_KEY", 32)? {
        Some(bytes) => SigningKey::new(kid, bytes).map_err(|e| fail("SESSION_SIGNING_KEY", e))?,
        None => SigningKey::generate("dev"),
    };
    let mut builder = AuthConfig::builder(public_url)
        .signing_key(signing)
        // The links open the example's pages (the library's default paths).
        .verify_email_path("/verify-email")
        .reset_password_path("/reset-password")
        .confirm_email_change_path("/confirm-email-change")
        .security_report_path("/security-report");
    if let Some(proxies) = var("TRUSTED_PROXIES") {
        let proxies = TrustedProxies::parse(&proxies).map_err(|e| fail("TRUSTED_PROXIES", e))?;
        builder = builder.trusted_proxies(proxies);
    }
    if let Some(seconds) = var("REAUTHENTICATION_WINDOW_SECONDS") {
        let seconds: u32 = seconds
            .parse()
            .map_err(|e| fail("REAUTHENTICATION_WINDOW_SECONDS", e))?;
        builder = builder
            .reauthentication_window(tollbooth_db::chrono::TimeDelta::seconds(seconds.into()));
    }
    if let Some(minutes) = var("IMPERSONATION_MINUTES") {
        let minutes: u16 = minutes
            .parse()
            .map_err(|e| fail("IMPERSONATION_MINUTES", e))?;
        builder = builder
            .impersonation_lifetime(tollbooth_db::chrono::TimeDelta::minutes(minutes.into()));
    }
    if let Some(days) = var("NEW_SIGN_IN_ALERT_DAYS") {
        let days: u16 = days
            .parse()
            .map_err(|e| fail("NEW_SIGN_IN_ALERT_DAYS", e))?;
        let window = (days > 0).then(|| tollbooth_db::chrono::TimeDelta::days(days.into()));
        builder = builder.new_sign_in_alert(window);
    }
    for previous in var("SESSION_PREVIOUS_KEYS")
        .iter()
        .flat_map(|v| v.split(','))
    {
        let (kid, encoded) = previous
            .split_once(':')
            .ok_or_else(|| fail("SESSION_PREVIOUS_KEYS", "expected kid:base64,…"))?;
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|e| fail("SESSION_PREVIOUS_KEYS", e))?;
        builder = builder.previous_key(
            SigningKey::new(kid.trim(), bytes).map_err(|e| fail("SESSION_PREVIOUS_KEYS", e))?,
        );
    }
    let mfa_key = match key_bytes("MFA_ENCRYPTION_KEY", 32)? {
        Some(bytes) => {
            let key: [u8; 32] = bytes[..32]
                .try_into()
                .map_err(|_| fail("MFA_ENCRYPTION_KEY", "32 bytes"))?;
            EncryptionKey::new(var_or("MFA_KEY_ID", "v1"), key)
        }
        None => EncryptionKey::generate("dev"),
    };
    builder = builder.mfa(MfaConfig::new(mfa_key, product));
    let callback = |provider: &str| {
        format!(
            "{}/auth/oauth/{provider}/callback",
            public_url.trim_end_matches('/')
        )
    };
    if let (Some(id), Some(secret)) = (var("GITHUB_CLIENT_ID"), var("GITHUB_CLIENT_SECRET")) {
        let mut github = ProviderConfig::github(id, ClientSecret::new(secret), callback("github"));
        if let Some(base) = var("GITHUB_OAUTH_BASE") {
            github = github.endpoints_at(&base);
        }
        builder = builder.oauth_provider(github);
    }
    if let (Some(id), Some(secret)) = (var("GOOGLE_CLIENT_ID"), var("GOOGLE_CLIENT_SECRET")) {
        let mut google = ProviderConfig::google(id, ClientSecret::new(secret), callback("google"));
        if let Some(base) = var("GOOGLE_OAUTH_BASE") {
            google = google.endpoints_at(&base);
        }
        builder = builder.oauth_provider(google);
    }
    if let Some(billing) = billing {
        // Deleting an account or an organization first ends what Stripe could bill it for.
        // …and an organization's seats follow its members (`Billing` hears `SeatsChanged`).
        builder = builder
            .before_account_deletion(billing.clone())
            .before_organization_deletion(billing.clone())
            .hooks(billing.clone());
    }
    builder = builder.hooks(LogEvents);
    let config = builder.build().map_err(|e| fail("auth configuration", e))?;
    Ok(Auth::new(db, mailer, config))
}

fn billing(db: Db, mailer: Mailer, public_url: &str) -> Result<Option<Billing>, StartupError> {
    let Some(key) = var("STRIPE_SECRET_KEY") else {
        tracing::info!("STRIPE_SECRET_KEY is not set: billing routes answer 404 not_configured");
        return Ok(None);
    };
    let mut builder = BillingConfig::builder(StripeSecretKey::new(key), public_url);
    for secret in var("STRIPE_WEBHOOK_SECRET")
        .iter()
        .flat_map(|v| v.split(','))
    {
        builder = builder.webhook_secret(WebhookSecret::new(secret.trim()));
    }
    for plan in plans()? {
        builder = builder.plan(plan);
    }
    builder = builder.free_plan(seat_limited(Plan::new("free", "Free"), "FREE")?);
    if let Some(days) = var("STRIPE_PAST_DUE_GRACE_DAYS") {
        let days: u64 = days
            .parse()
            .map_err(|e| fail("STRIPE_PAST_DUE_GRACE_DAYS", e))?;
        builder = builder.past_due_grace(Duration::from_secs(days * 86_400));
    }
    if let Some(cancel) = var("STRIPE_CANCEL_DUPLICATE_SUBSCRIPTIONS") {
        builder = builder.cancel_duplicate_subscriptions(flag(
            "STRIPE_CANCEL_DUPLICATE_SUBSCRIPTIONS",
            &cancel,
        )?);
    }
    if let Some(at_period_end) = var("STRIPE_CANCEL_AT_PERIOD_END_ON_ACCOUNT_DELETION") {
        builder = builder.cancel_at_period_end_on_account_deletion(flag(
            "STRIPE_CANCEL_AT_PERIOD_END_ON_ACCOUNT_DELETION",
            &at_period_end,
        )?);
    }
    if let Some(count) = var("BILLING_COUNT_PENDING_INVITATIONS_AS_SEATS") {
        builder = builder.count_pending_invitations_as_seats(flag(
            "BILLING_COUNT_PENDING_INVITATIONS_AS_SEATS",
            &count,
        )?);
    }
    if let Some(days) = var("STRIPE_TRIAL_DAYS") {
        builder = builder.trial_days(days.parse().map_err(|e| fail("STRIPE_TRIAL_DAYS", e))?);
    }
    if let Some(version) = var("STRIPE_API_VERSION") {
        builder = builder.api_version(version);
    }
    if let Some(base) = var("STRIPE_API_BASE") {
        builder = builder.api_base(base).timeout(Duration::from_secs(5));
    }
    if let Some(key) = var("CALCOM_API_KEY") {
        let mut calcom = CalcomConfig::new(CalcomApiKey::new(key));
        if let Some(secret) = var("CALCOM_WEBHOOK_SECRET") {
            calcom = calcom.webhook_secret(WebhookSecret::new(secret));
        }
        if let (Some(api), booking) = (
            var("CALCOM_API_BASE"),
            var_or("CALCOM_BOOKING_BASE", "https://cal.com"),
        ) {
            calcom = calcom
                .urls(&api, &booking)
                .map_err(|e| fail("CALCOM_API_BASE", e))?;
        }
        builder = builder.calcom(calcom);
    }
    let config = builder
        // The pages billing e-mails link to (an organization's is the default, `/organizations/{id}`).
        .billing_path("/account/billing")
        .hooks(LogEvents)
        .build()
        .map_err(|e| fail("billing configuration", e))?;
    Billing::new(db, mailer, config)
        .map(Some)
        .map_err(|e| fail("billing", e))
}

/// The example's application hooks: each domain event logged by name and user (or billed
/// customer) — where an application would update its analytics or CRM.
struct LogEvents;

#[async_trait::async_trait]
impl Hooks for LogEvents {
    async fn on_event(&self, event: &DomainEvent) -> Result<(), HookError> {
        let user = match event {
            DomainEvent::UserCreated { user_id, .. }
            | DomainEvent::SignedIn { user_id, .. }
            | DomainEvent::PasswordChanged { user_id }
            | DomainEvent::EmailChanged { user_id, .. }
            | DomainEvent::AccountDeleted { user_id }
            | DomainEvent::Banned { user_id, .. }
            | DomainEvent::Unbanned { user_id, .. }
            | DomainEvent::RoleChanged { user_id, .. } => Some(*user_id),
            _ => None,
        };
        let customer = match event {
            DomainEvent::SubscriptionChanged { customer, .. } => Some(customer.to_string()),
            _ => None,
        };
        tracing::info!(event = event.name(), user_id = ?user, customer = ?customer, "domain event");
        Ok(())
    }
}
