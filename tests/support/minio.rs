//! A real S3-compatible object store for the lake tests: MinIO (built by
//! scripts/setup with `go install`) on a free loopback port, data in a
//! temporary folder, stopped when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running MinIO server.
pub struct MinioServer {
    child: Child,
    _data: tempfile::TempDir,
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
}

/// MinIO's access key in tests.
pub const MINIO_USER: &str = "tributary";
/// MinIO's secret key in tests.
pub const MINIO_PASSWORD: &str = "tributary-secret";

/// The `minio` binary: `MINIO_BIN`, else where `go install` puts it.
fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("MINIO_BIN") {
        return PathBuf::from(p);
    }
    let gopath = std::env::var_os("GOPATH").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join("go"),
        PathBuf::from,
    );
    gopath.join("bin/minio")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl MinioServer {
    /// Starts one and waits until it is ready.
    pub fn start() -> MinioServer {
        let data = tempfile::tempdir().expect("temp dir");
        let (port, console) = (free_port(), free_port());
        let bin = binary();
        let child = Command::new(&bin)
            .args([
                "server",
                "--quiet",
                "--address",
                &format!("127.0.0.1:{port}"),
            ])
            .args(["--console-address", &format!("127.0.0.1:{console}")])
            .arg(data.path())
            .env("MINIO_ROOT_USER", MINIO_USER)
            .env("MINIO_ROOT_PASSWORD", MINIO_PASSWORD)
            .env("MINIO_BROWSER", "off")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "{} does not run ({e}); scripts/setup builds it with go install",
                    bin.display()
                )
            });
        let server = MinioServer {
            child,
            _data: data,
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let ready = format!("{}/minio/health/ready", server.endpoint);
        let deadline = Instant::now() + Duration::from_secs(30);
        while crate::http_get(&ready).is_none_or(|r| !r.starts_with("HTTP/1.0 200")) {
            assert!(Instant::now() < deadline, "minio did not get ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// Creates `bucket` (with pyarrow's S3 client).
    pub fn create_bucket(&self, bucket: &str) {
        let script = format!(
            "import pyarrow.fs as f; f.S3FileSystem(access_key={MINIO_USER:?}, secret_key={MINIO_PASSWORD:?}, \
             endpoint_override={:?}, scheme='http', region='us-east-1', allow_bucket_creation=True).create_dir({bucket:?})",
            self.endpoint.trim_start_matches("http://")
        );
        let out = Command::new(crate::python())
            .args(["-c", &script])
            .output()
            .expect("run python3");
        assert!(
            out.status.success(),
            "create bucket {bucket}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The environment an S3 client needs to reach this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", MINIO_USER.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", MINIO_PASSWORD.to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("S3_ENDPOINT", self.endpoint.clone()),
        ]
    }
}

impl Drop for MinioServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
