//! Where OCSF records go: Kafka (the product) or NDJSON files (the demo without a broker).
//!
//! Every delivery resolves only when the record is durably taken (Kafka acknowledged it, or the
//! file was flushed); the pipeline acknowledges a batch to the fetcher only then.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use mapper::OcsfRecord;
use producer::{DeadLetter, DeliveryListener, OcsfProducer, ProduceError, ProducerConfig};
use rdkafka::error::RDKafkaErrorCode;

/// How one record ended up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Written to its class topic/file.
    Delivered,
    /// Written to the dead-letter topic/file instead (could not be encoded).
    DeadLettered,
}

/// A destination for OCSF records and dead letters.
pub enum Sink {
    /// Kafka via the producer crate.
    Kafka(Box<KafkaSink>),
    /// One NDJSON file per OCSF class in a directory, plus `dead_letter.ndjson`.
    Files(FileSink),
}

impl Sink {
    /// Hands one record to the sink, waiting while the sink's queue is full (backpressure);
    /// the returned future resolves when the record is durably taken. A record that can never
    /// be delivered as it is (does not fit the Avro schema, too large) is dead-lettered instead,
    /// with `raw` (the original Directory Insights event) as its value. A transport failure is
    /// an error: the caller retries. The record itself is not kept: only its encoded copy in
    /// the producer's bounded queue.
    pub async fn enqueue(
        &self,
        record: &OcsfRecord,
        raw: &Bytes,
        org_id: &str,
    ) -> BoxFuture<'static, Result<Outcome, SinkError>> {
        match self {
            Sink::Kafka(kafka) => {
                let producer = kafka.producer();
                let queued = producer.enqueue(record).await;
                // The dead letter of a record refused as it is: the original event `raw`.
                let letter = {
                    let (raw, org_id) = (raw.clone(), org_id.to_string());
                    let event_id = record.original_event_uid.clone();
                    move |err: &ProduceError| DeadLetter {
                        raw,
                        reason: err.to_string(),
                        stage: err.stage(),
                        org_id: Some(org_id),
                        event_id,
                    }
                };
                match queued {
                    // A record fault can also come back from the broker (message too large).
                    Ok(pending) => Box::pin(async move {
                        match pending.await {
                            Ok(_) => Ok(Outcome::Delivered),
                            Err(err) if err.is_record_fault() => {
                                producer.send_dead_letter(letter(&err)).await?;
                                Ok(Outcome::DeadLettered)
                            }
                            Err(err) => Err(err.into()),
                        }
                    }),
                    Err(err) if err.is_record_fault() => {
                        let send = producer.send_dead_letter(letter(&err));
                        Box::pin(async move {
                            send.await
                                .map(|_| Outcome::DeadLettered)
                                .map_err(SinkError::from)
                        })
                    }
                    Err(err) => Box::pin(async move { Err(err.into()) }),
                }
            }
            Sink::Files(files) => {
                let result = files
                    .write(record.class_name, &record.json)
                    .map(|()| Outcome::Delivered);
                Box::pin(async move { result })
            }
        }
    }

    /// Hands one record to the sink, waiting while the sink's queue is full (backpressure).
    /// `Ok`: the sink took it, and `listener` will hear `delivered(index, ..)` exactly once
    /// (Kafka: on the producer's polling thread when the broker answers; files: at once).
    /// `Err`: the sink did not take it and the listener hears nothing; a record fault
    /// ([`SinkError::as_record_fault`]) is for the dead-letter topic, anything else is retried.
    pub async fn enqueue_tracked(
        &self,
        record: &OcsfRecord,
        listener: &Arc<dyn DeliveryListener>,
        index: u32,
    ) -> Result<(), SinkError> {
        match self {
            Sink::Kafka(kafka) => Ok(kafka
                .producer()
                .enqueue_tracked(record, listener, index)
                .await?),
            Sink::Files(files) => {
                files.write(record.class_name, &record.json)?;
                listener.delivered(index, Ok(()));
                Ok(())
            }
        }
    }

    /// Delivers a dead letter; resolves when it is durably taken.
    pub fn deliver_dead_letter(
        &self,
        letter: DeadLetter,
    ) -> BoxFuture<'static, Result<(), SinkError>> {
        match self {
            Sink::Kafka(kafka) => {
                let send = kafka.producer().send_dead_letter(letter);
                Box::pin(async move { send.await.map(|_| ()).map_err(SinkError::from) })
            }
            Sink::Files(files) => {
                let result = files.write_dead_letter(&letter);
                Box::pin(async move { result })
            }
        }
    }

    /// Makes everything written so far durable (files: flush + fsync; Kafka: every send
    /// already resolved on the broker's ack).
    pub fn sync(&self) -> Result<(), SinkError> {
        match self {
            Sink::Kafka(..) => Ok(()),
            Sink::Files(files) => files.flush(),
        }
    }

    /// A Kafka sink; `config` is kept to rebuild the producer after a fatal error.
    pub fn kafka(producer: OcsfProducer, config: ProducerConfig) -> Sink {
        Sink::Kafka(Box::new(KafkaSink {
            producer: std::sync::RwLock::new(Arc::new(producer)),
            config,
            last_recovery: tokio::sync::Mutex::new(None),
        }))
    }

    /// Called after a failed delivery, before it is retried, at most once per 10 s:
    /// - a topic that vanished (deleted, or a broker that lost its data) is created again;
    /// - after a fatal producer error (e.g. the idempotent producer's sequence state no longer
    ///   matches a broker that lost its data) the producer is rebuilt; records of the old one
    ///   fail and are re-sent through the new one by their retry loop.
    pub async fn recover(&self, error: &SinkError) {
        let Sink::Kafka(kafka) = self else { return };
        let SinkError::Kafka(ProduceError::Kafka {
            code: Some(code),
            topic,
            ..
        }) = error
        else {
            return;
        };
        let unknown_topic = matches!(
            code,
            RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic
        );
        let fatal = matches!(code, RDKafkaErrorCode::Fatal);
        if !unknown_topic && !fatal {
            return;
        }
        let mut last = kafka.last_recovery.lock().await;
        if last.is_some_and(|at| at.elapsed() < Duration::from_secs(10)) {
            return;
        }
        *last = Some(std::time::Instant::now());
        if fatal {
            tracing::warn!(%topic, "fatal Kafka producer error; rebuilding the producer");
            match OcsfProducer::new(kafka.config.clone()).await {
                Ok(producer) => {
                    let mut current = kafka
                        .producer
                        .write()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    *current = Arc::new(producer);
                }
                Err(err) => {
                    tracing::error!(error = %err, "rebuilding the producer failed; retrying later")
                }
            }
        }
        tracing::warn!(%topic, "making sure the pipeline's topics exist");
        if let Err(err) = kafka.producer().ensure_topics().await {
            tracing::error!(error = %err, "creating the topics failed; deliveries keep retrying");
        }
    }

    /// Waits for everything queued (shutdown).
    pub fn flush(&self, timeout: Duration) -> Result<(), SinkError> {
        match self {
            Sink::Kafka(kafka) => kafka.producer().flush(timeout).map_err(SinkError::from),
            Sink::Files(files) => files.flush(),
        }
    }
}

/// A record or dead letter was not durably taken; the pipeline retries it.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Kafka did not confirm it.
    #[error(transparent)]
    Kafka(#[from] ProduceError),
    /// The output file could not be written.
    #[error("cannot write {path}: {source}")]
    File {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl SinkError {
    /// The producer's error when the record itself is at fault (it will never be deliverable
    /// as it is: dead-letter it); `None` for transport failures, which are retried.
    pub fn as_record_fault(&self) -> Option<&ProduceError> {
        match self {
            SinkError::Kafka(err) if err.is_record_fault() => Some(err),
            _ => None,
        }
    }
}

fn file_error(path: String, source: std::io::Error) -> SinkError {
    SinkError::File { path, source }
}

/// The Kafka producer, replaceable after a fatal error.
pub struct KafkaSink {
    producer: std::sync::RwLock<Arc<OcsfProducer>>,
    config: ProducerConfig,
    last_recovery: tokio::sync::Mutex<Option<std::time::Instant>>,
}

impl KafkaSink {
    /// The current producer.
    pub fn producer(&self) -> Arc<OcsfProducer> {
        Arc::clone(
            &self
                .producer
                .read()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }
}

/// NDJSON files per OCSF class.
pub struct FileSink {
    dir: PathBuf,
    files: Mutex<HashMap<&'static str, BufWriter<File>>>,
}

impl FileSink {
    /// Writes into `dir` (created if missing); existing files are appended to.
    pub fn create(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            files: Mutex::new(HashMap::new()),
        })
    }

    fn write(&self, name: &'static str, line: &[u8]) -> Result<(), SinkError> {
        let mut files = self
            .files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let file = match files.get_mut(name) {
            Some(file) => file,
            None => {
                let path = self.dir.join(format!("{name}.ndjson"));
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
                    .map_err(|err| file_error(path.display().to_string(), err))?;
                files.entry(name).or_insert(BufWriter::new(file))
            }
        };
        file.write_all(line)
            .and_then(|()| file.write_all(b"\n"))
            .map_err(|err| file_error(self.dir.join(name).display().to_string(), err))
    }

    fn write_dead_letter(&self, letter: &DeadLetter) -> Result<(), SinkError> {
        let line = serde_json::json!({
            "reason": letter.reason,
            "stage": letter.stage.as_str(),
            "org_id": letter.org_id,
            "event_id": letter.event_id,
            "raw": String::from_utf8_lossy(&letter.raw),
        });
        self.write("dead_letter", line.to_string().as_bytes())
    }

    fn flush(&self) -> Result<(), SinkError> {
        let mut files = self
            .files
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (name, file) in files.iter_mut() {
            file.flush()
                .and_then(|()| file.get_ref().sync_data())
                .map_err(|err| file_error(self.dir.join(name).display().to_string(), err))?;
        }
        Ok(())
    }
}
