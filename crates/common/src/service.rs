//! Starting and stopping a binary: the one code path used by every `main.rs` and by in-process
//! tests, so tests run exactly the app that ships.
//!
//! [`Infra::connect`] opens what a service depends on (pools, migrations, topics, producer);
//! [`HttpApp`] assembles the HTTP server with the shared middleware and probe routes plus background
//! tasks (outbox relay, consumers); [`RunningService`] stops it all in the right order.

use crate::db::{self, DbPool};
use crate::http::probes::{self, BrokerProbe, PostgresProbe, RedisProbe};
use crate::http::{Probe, ScrapeHook, ServiceInfo, configure_extractors, extract, observe};
use crate::kafka::{self, ConsumerSpec, EventProducer};
use crate::outbox::{OutboxRelay, RelayWaker};
use crate::redis::{self as redis_pool, RedisPool};
use crate::settings::{KafkaSettings, ServiceSettings};
use crate::shutdown::{self, Shutdown, ShutdownTrigger};
use actix_web::dev::ServerHandle;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use diesel_migrations::EmbeddedMigrations;
use futures_util::future::BoxFuture;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// Route registration, called once per HTTP worker.
pub type Routes = Arc<dyn Fn(&mut web::ServiceConfig) + Send + Sync>;

/// A background task that runs until the shutdown signal.
pub type BackgroundTask = Box<dyn FnOnce(Shutdown) -> BoxFuture<'static, ()> + Send>;

/// What a service connects to at start.
#[derive(Clone)]
pub struct Infra {
    pub service: String,
    pub db: DbPool,
    pub redis: RedisPool,
    pub producer: EventProducer,
    pub kafka: KafkaSettings,
    pub relay: RelayWaker,
}

impl Infra {
    /// Builds the pools, applies migrations, creates `topics` (logical names; their DLQs too) and
    /// starts the producer. Fails fast if PostgreSQL cannot be migrated; Redis and the broker may be
    /// down at start (their probes report it) because the service can still serve reads.
    pub async fn connect(
        settings: &ServiceSettings,
        migrations: EmbeddedMigrations,
        topics: &[&str],
    ) -> anyhow::Result<Self> {
        let db = db::build_pool(&settings.database, &settings.service_id)?;
        db::migrate(&settings.database, migrations).await.context("migrating the database")?;
        let redis = redis_pool::build_pool(&settings.redis)?;
        let producer = EventProducer::new(&settings.kafka, &settings.service_id)?;
        let mut names: Vec<String> = Vec::new();
        for topic in topics {
            names.push(settings.kafka.topic(topic));
            names.push(crate::events::topics::dead_letter(&settings.kafka.topic(topic)));
        }
        kafka::ensure_topics(&settings.kafka, &names).await.context("creating Kafka topics")?;
        Ok(Self {
            service: settings.service_id.clone(),
            db,
            redis,
            producer,
            kafka: settings.kafka.clone(),
            relay: RelayWaker::default(),
        })
    }

    /// Adds the probes, gauges, outbox relay and consumers of this infrastructure to `app`.
    pub fn attach(&self, app: &mut HttpApp, consumers: Vec<ConsumerSpec>) {
        app.probes.push(Arc::new(PostgresProbe(self.db.clone())));
        app.probes.push(Arc::new(RedisProbe(self.redis.clone())));
        app.probes.push(Arc::new(BrokerProbe(self.producer.clone())));
        app.scrape_hooks.push(self.gauges_hook());
        app.flush_on_stop = Some(self.producer.clone());

        if self.kafka.outbox_relay_enabled {
            let relay = OutboxRelay::new(
                self.db.clone(),
                self.producer.clone(),
                self.kafka.clone(),
                &self.service,
                &self.relay,
            );
            app.background.push(Box::new(move |shutdown| Box::pin(relay.run(shutdown))));
        } else {
            tracing::warn!("the outbox relay is off (OUTBOX_RELAY_ENABLED=false): events stay in the outbox");
        }
        for spec in consumers {
            let kafka = self.kafka.clone();
            let service = self.service.clone();
            let producer = self.producer.clone();
            app.background.push(Box::new(move |shutdown| {
                Box::pin(async move {
                    let group = spec.group.clone();
                    if let Err(err) = kafka::consumer::run(spec, kafka, service, producer, shutdown).await {
                        tracing::error!(consumer.group = %group, error = %format!("{err:#}"), "consumer failed");
                    }
                })
            }));
        }
    }

    /// Pool usage and outbox backlog, read at scrape time.
    fn gauges_hook(&self) -> ScrapeHook {
        let db = self.db.clone();
        let redis = self.redis.clone();
        let service = self.service.clone();
        Arc::new(move || {
            let db = db.clone();
            let service = service.clone();
            crate::pool_gauges::record_redis_pool(&service, &redis);
            Box::pin(async move {
                let status = db.status();
                let in_use = status.size.saturating_sub(status.available);
                metrics::gauge!("db_pool_connections", "service" => service.clone(), "state" => "in_use")
                    .set(in_use as f64);
                metrics::gauge!("db_pool_connections", "service" => service.clone(), "state" => "idle")
                    .set(status.available as f64);
                metrics::gauge!("db_pool_connections", "service" => service.clone(), "state" => "max")
                    .set(status.max_size as f64);
                if let Ok(mut conn) = db.get().await
                    && let Ok(backlog) = crate::outbox::backlog(&mut conn).await
                {
                    metrics::gauge!("outbox_backlog", "service" => service).set(backlog as f64);
                }
            })
        })
    }
}

/// An HTTP server plus its background tasks, not yet started.
pub struct HttpApp {
    pub name: String,
    pub version: String,
    pub routes: Routes,
    pub probes: Vec<Arc<dyn Probe>>,
    pub scrape_hooks: Vec<ScrapeHook>,
    pub background: Vec<BackgroundTask>,
    pub flush_on_stop: Option<EventProducer>,
    pub workers: usize,
    pub shutdown_grace: Duration,
    /// Registers the standard `/health`, `/metrics` and `/` handlers. The gateway turns this off
    /// and serves aggregated versions instead.
    pub probe_routes: bool,
}

impl HttpApp {
    pub fn new(name: &str, version: &str, routes: Routes) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
            routes,
            probes: Vec::new(),
            scrape_hooks: Vec::new(),
            background: Vec::new(),
            flush_on_stop: None,
            workers: 2,
            shutdown_grace: Duration::from_secs(20),
            probe_routes: true,
        }
    }

    /// Binds `host:port` (port 0 picks a free one, as tests do) and starts serving.
    pub fn bind_and_start(self, host: &str, port: u16) -> anyhow::Result<RunningService> {
        let listener = TcpListener::bind((host, port)).with_context(|| format!("binding {host}:{port}"))?;
        self.start(listener)
    }

    pub fn start(self, listener: TcpListener) -> anyhow::Result<RunningService> {
        let addr = listener.local_addr()?;
        let info = web::Data::new(ServiceInfo {
            name: self.name.clone(),
            version: self.version.clone(),
            started_at: Instant::now(),
            probes: self.probes,
            scrape_hooks: self.scrape_hooks,
            metrics: crate::telemetry::metrics_handle(),
        });
        let routes = self.routes;
        let probe_routes = self.probe_routes;
        let server = HttpServer::new(move || {
            let routes = routes.clone();
            App::new()
                .app_data(info.clone())
                .configure(configure_extractors)
                .wrap(from_fn(observe))
                .configure(|cfg| {
                    if probe_routes {
                        probes::configure(cfg);
                    }
                })
                .configure(move |cfg| routes(cfg))
                .default_service(web::to(extract::not_found))
        })
        // Responses are written in small pieces; with Nagle on, a keep-alive client's next request
        // waits for the delayed ACK (~40 ms on Linux), which showed up as the gateway bench's p99.
        .on_connect(disable_nagle)
        .workers(self.workers.max(1))
        // Signals are handled by RunningService so the shutdown order is ours, not actix's.
        .disable_signals()
        .shutdown_timeout(self.shutdown_grace.as_secs().max(1))
        .listen(listener)?
        .run();
        let server_handle = server.handle();
        let server_task = tokio::spawn(server);

        let (trigger, shutdown) = shutdown::channel();
        let background = self.background.into_iter().map(|task| tokio::spawn(task(shutdown.clone()))).collect();
        tracing::info!(service = %self.name, %addr, "listening");
        Ok(RunningService {
            name: self.name,
            addr,
            server_handle,
            server_task,
            trigger,
            background,
            flush_on_stop: self.flush_on_stop,
            shutdown_grace: self.shutdown_grace,
        })
    }
}

fn disable_nagle(connection: &dyn std::any::Any, _: &mut actix_web::dev::Extensions) {
    if let Some(stream) = connection.downcast_ref::<actix_web::rt::net::TcpStream>()
        && let Err(err) = stream.set_nodelay(true)
    {
        tracing::debug!(error = %err, "setting TCP_NODELAY failed");
    }
}

/// A started binary: its address and what it takes to stop it cleanly.
pub struct RunningService {
    name: String,
    addr: SocketAddr,
    server_handle: ServerHandle,
    server_task: JoinHandle<std::io::Result<()>>,
    trigger: ShutdownTrigger,
    background: Vec<JoinHandle<()>>,
    flush_on_stop: Option<EventProducer>,
    shutdown_grace: Duration,
}

impl RunningService {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    pub fn port(&self) -> u16 {
        self.addr.port()
    }
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves until SIGTERM/Ctrl-C (or the server dies), then stops gracefully.
    pub async fn run_until_signal(mut self) -> anyhow::Result<()> {
        tokio::select! {
            _ = shutdown::os_signal() => {}
            result = &mut self.server_task => {
                tracing::error!(service = %self.name, ?result, "the HTTP server stopped on its own");
            }
        }
        self.stop().await;
        Ok(())
    }

    /// Stop accepting and drain in-flight requests; then stop consumers (they commit offsets) and
    /// the relay; then flush the producer.
    pub async fn stop(self) {
        // actix bounds the drain by `shutdown_timeout`; the outer bound guards against a stuck stop.
        if tokio::time::timeout(self.shutdown_grace + Duration::from_secs(5), self.server_handle.stop(true))
            .await
            .is_err()
        {
            tracing::warn!(service = %self.name, "the HTTP server did not stop in time");
        }
        self.trigger.trigger();
        for task in self.background {
            if tokio::time::timeout(Duration::from_secs(15), task).await.is_err() {
                tracing::warn!(service = %self.name, "a background task did not stop within 15 s");
            }
        }
        if let Some(producer) = self.flush_on_stop {
            let _ = tokio::task::spawn_blocking(move || producer.flush(Duration::from_secs(5))).await;
        }
        tracing::info!(service = %self.name, "stopped");
    }
}

/// What a service adds to the shared plumbing.
pub struct ServiceParts {
    pub routes: Routes,
    pub consumers: Vec<ConsumerSpec>,
    /// Gauges refreshed right before each `/metrics` scrape (e.g. `ecommerce_users_total`).
    pub scrape_hooks: Vec<ScrapeHook>,
    /// Extra tasks that run until shutdown (e.g. key rotation).
    pub background: Vec<BackgroundTask>,
}

impl ServiceParts {
    pub fn routes(routes: impl Fn(&mut web::ServiceConfig) + Send + Sync + 'static) -> Self {
        Self { routes: Arc::new(routes), consumers: Vec::new(), scrape_hooks: Vec::new(), background: Vec::new() }
    }
}

/// The fixed facts of one service binary.
pub struct ServiceDefinition {
    pub name: &'static str,
    pub version: &'static str,
    pub default_port: u16,
    pub default_database: &'static str,
    /// Returns the embedded migrations (diesel's type is neither `Copy` nor `Clone`, so the
    /// definition keeps a constructor: `|| MIGRATIONS`).
    pub migrations: fn() -> EmbeddedMigrations,
    /// Logical topics it produces or consumes; created (with their DLQs) at start.
    pub topics: &'static [&'static str],
}

impl ServiceDefinition {
    /// Reads the common settings with this service's defaults.
    pub fn settings(&self, env: &crate::settings::Env) -> Result<ServiceSettings, crate::settings::SettingsError> {
        ServiceSettings::from_env(env, self.name, self.default_port, self.default_database)
    }

    /// Connects the infrastructure, then builds and starts the app with what the service derives
    /// from it (routes, consumers, gauges, extra background tasks).
    pub async fn launch(
        &self,
        settings: &ServiceSettings,
        parts: impl FnOnce(&Infra) -> anyhow::Result<ServiceParts>,
    ) -> anyhow::Result<RunningService> {
        let infra = Infra::connect(settings, (self.migrations)(), self.topics).await?;
        let parts = parts(&infra)?;
        let mut app = HttpApp::new(&settings.service_id, self.version, parts.routes);
        app.workers = settings.http_workers;
        app.shutdown_grace = settings.shutdown_grace;
        app.scrape_hooks.extend(parts.scrape_hooks);
        app.background.extend(parts.background);
        infra.attach(&mut app, parts.consumers);
        app.bind_and_start(&settings.host, settings.port)
    }
}
