//! The pipeline as a process under test, and the lake it writes read back
//! by readers no one here wrote: pyarrow for plain Parquet lakes
//! (`tests/python/read_lake.py`), PyIceberg for Iceberg lakes through the
//! same SQL catalog (`tests/python/read_iceberg.py`).

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running `tributary-pipeline` and its metrics address.
pub struct PipelineProcess {
    /// The process.
    pub child: Child,
    /// `http://…/metrics`.
    pub metrics: String,
}

impl PipelineProcess {
    /// Starts the binary with `--config path` and waits for its metrics
    /// address.
    pub fn start(config: &Path) -> PipelineProcess {
        PipelineProcess::start_with(config, &[])
    }

    /// [`Self::start`] with more environment (an S3 store's credentials).
    pub fn start_with(config: &Path, env: &[(&str, String)]) -> PipelineProcess {
        let mut child = Command::new(crate::workspace_binary("tributary-pipeline"))
            .arg("--config")
            .arg(config)
            .env("RUST_LOG", "warn")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the pipeline");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the metrics line");
        let metrics = line
            .trim()
            .strip_prefix("metrics on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        PipelineProcess { child, metrics }
    }

    /// The metrics page, or `None` while it cannot be read.
    pub fn metrics_text(&self) -> Option<String> {
        http_get(&self.metrics)
    }
}

impl Drop for PipelineProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of a plain-HTTP GET of `url`.
pub fn http_get(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/')?;
    let mut s = std::net::TcpStream::connect(host).ok()?;
    write!(s, "GET /{path} HTTP/1.0\r\nHost: x\r\n\r\n").ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    Some(body)
}

/// The value of the first sample of metric `name` (no labels) in a
/// Prometheus text page; 0 when absent.
pub fn metric_value(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse::<f64>().ok())
        .unwrap_or(0.0) as u64
}

/// The Python the readers run with (`PYTHON`, else `python3`).
pub fn python() -> PathBuf {
    std::env::var_os("PYTHON").map_or_else(|| PathBuf::from("python3"), PathBuf::from)
}

/// Waits until `done` holds and the pipeline reads with no lag on each of
/// its `partitions` partitions; returns its metrics page. The page is read
/// after `done` held: lag 0 only says every record was consumed, and the
/// pipeline counts what it drops or leaves out before the commit that
/// makes `done` true, so a page read earlier could miss those counts.
pub fn wait_caught_up(
    p: &PipelineProcess,
    partitions: usize,
    timeout: std::time::Duration,
    done: impl Fn() -> bool,
) -> String {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the pipeline did not catch up within {timeout:?}"
        );
        if done()
            && let Some(m) = p.metrics_text()
        {
            let lags: Vec<i64> = m
                .lines()
                .filter(|l| l.starts_with("tributary_pipeline_lag_records{"))
                .filter_map(|l| l.rsplit(' ').next()?.parse().ok())
                .collect();
            if lags.len() == partitions && lags.iter().all(|l| *l == 0) {
                return m;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// The standard output of `cmd`, which must succeed: otherwise the test
/// fails with `what` and the command's standard error.
pub fn stdout_of(cmd: &mut Command, what: &str) -> Vec<u8> {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run: {e}"));
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out.stdout
}

/// [`stdout_of`] read as one JSON value.
pub fn json_of(cmd: &mut Command, what: &str) -> serde_json::Value {
    let out = stdout_of(cmd, what);
    serde_json::from_slice(&out).unwrap_or_else(|e| {
        panic!(
            "{what} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out)
        )
    })
}

/// A script of `tests/python/` under [`python`].
pub fn python_script(name: &str) -> Command {
    let mut cmd = Command::new(python());
    cmd.arg(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("python")
            .join(name),
    );
    cmd
}

/// The lake under `dir` summarised by `tests/python/read_lake.py`: rows,
/// distinct message ids, per-event rows and column types.
pub fn read_lake(dir: &Path) -> serde_json::Value {
    json_of(
        python_script("read_lake.py").arg(dir),
        "read_lake.py (install with: pip3 install pyarrow)",
    )
}

/// Writes `pipeline.toml` in `dir` for consumer group `<prefix>pipeline`
/// reading `topics` of the test cluster into the lake at `lake`, metrics
/// on a free port; `offload` is the body of its `[offload]` section.
pub fn write_pipeline_config(
    dir: &Path,
    prefix: &str,
    topics: &[&str],
    lake: &Path,
    offload: &str,
) -> PathBuf {
    let store = format!("[store]\nurl = \"file://{}\"\n", lake.display());
    write_pipeline_config_with(dir, prefix, topics, &store, offload)
}

/// [`write_pipeline_config`] with the `[store]` (and `[lake]`, ...)
/// sections given as TOML text.
pub fn write_pipeline_config_with(
    dir: &Path,
    prefix: &str,
    topics: &[&str],
    sections: &str,
    offload: &str,
) -> PathBuf {
    let topics: Vec<String> = topics.iter().map(|t| format!("{prefix}{t}")).collect();
    let text = format!(
        "[kafka]\nbrokers = {:?}\ngroup_id = \"{prefix}pipeline\"\ntopics = {:?}\n\
         {sections}\n[offload]\n{offload}\n[server]\nlisten = \"127.0.0.1:0\"\n",
        crate::kafka(),
        topics,
    );
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).expect("write the pipeline config");
    path
}

/// An Iceberg lake for a test: a store (a local folder, or a bucket of a
/// MinIO server) and a SQLite catalog file.
pub struct IcebergLake {
    /// The store's URL (`file:///…`, `s3://bucket`).
    pub store_url: String,
    /// The SQLite catalog.
    pub catalog: PathBuf,
    /// Environment the pipeline and the readers need (S3 credentials).
    pub env: Vec<(&'static str, String)>,
    s3_endpoint: Option<String>,
    _dir: tempfile::TempDir,
}

impl IcebergLake {
    /// A lake in a local folder.
    pub fn local() -> IcebergLake {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = dir.path().join("lake");
        std::fs::create_dir_all(&store).expect("lake dir");
        IcebergLake {
            store_url: format!("file://{}", store.display()),
            catalog: dir.path().join("catalog.db"),
            env: Vec::new(),
            s3_endpoint: None,
            _dir: dir,
        }
    }

    /// A lake in bucket `bucket` of `minio` (created here).
    pub fn on_s3(minio: &crate::MinioServer, bucket: &str) -> IcebergLake {
        minio.create_bucket(bucket);
        let dir = tempfile::tempdir().expect("temp dir");
        IcebergLake {
            store_url: format!("s3://{bucket}"),
            catalog: dir.path().join("catalog.db"),
            env: minio.env(),
            s3_endpoint: Some(minio.endpoint.clone()),
            _dir: dir,
        }
    }

    /// The same store with a fresh catalog: the tables rebuilt from Kafka.
    pub fn with_fresh_catalog(&self) -> IcebergLake {
        let dir = tempfile::tempdir().expect("temp dir");
        IcebergLake {
            store_url: self.store_url.clone(),
            catalog: dir.path().join("catalog.db"),
            env: self.env.clone(),
            s3_endpoint: self.s3_endpoint.clone(),
            _dir: dir,
        }
    }

    /// The pipeline's `[store]` and `[lake]` sections for this lake.
    pub fn sections(&self) -> String {
        let mut s = format!("[store]\nurl = {:?}\n", self.store_url);
        if let Some(e) = &self.s3_endpoint {
            s.push_str(&format!("s3_endpoint = {e:?}\ns3_allow_http = true\n"));
        }
        s.push_str(&format!(
            "[lake]\nformat = \"iceberg\"\n[lake.catalog]\nuri = \"sqlite://{}\"\n",
            self.catalog.display()
        ));
        s
    }

    /// The tables summarised by `tests/python/read_iceberg.py` (PyIceberg,
    /// through the same catalog): rows, distinct message ids, per table its
    /// rows, types, snapshots and recorded offsets, and the data files.
    pub fn read(&self) -> serde_json::Value {
        json_of(
            python_script("read_iceberg.py")
                // SQLAlchemy's URL of the same file.
                .arg(format!("sqlite:///{}", self.catalog.display()))
                .arg(format!("{}/iceberg", self.store_url))
                .arg("tributary")
                .envs(self.env.iter().map(|(k, v)| (*k, v.as_str()))),
            "read_iceberg.py (install with: pip3 install 'pyiceberg[sql-sqlite,pyarrow]')",
        )
    }
}

/// Appends to a pipeline config the consumer settings a group test needs:
/// a killed member's partitions move after 6 s instead of 45 s.
pub fn rebalance_fast(config: &Path) {
    let mut text = std::fs::read_to_string(config).expect("read the pipeline config");
    text.push_str(
        "[kafka.consumer]\n\"session.timeout.ms\" = \"6000\"\n\"heartbeat.interval.ms\" = \"1000\"\n",
    );
    std::fs::write(config, text).expect("write the pipeline config");
}
