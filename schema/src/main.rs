//! `tributary-schema`: the schema directory's CI and deploy tool.
//!
//! * `check` — every version in the directory against its predecessors
//!   (and, with `--base`, against the versions already deployed: another
//!   directory, a git revision or a registry URL) under the compatibility
//!   rule; exits 1 with the breaking field named, 0 when all is compatible.
//! * `register` — pushes every version to a Confluent-compatible registry,
//!   oldest first (the deploy step when gateways read from that registry).
//! * `list` — subjects, versions and ids as the gateway will see them.
//! * `codegen` — typed tracking code for one app (TypeScript, Kotlin,
//!   Swift); with `--check`, exits 1 when the committed file is out of date.

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;
use tributary_schema::codegen::{self, Lang};
use tributary_schema::compat::{self, Rules};
use tributary_schema::confluent::ConfluentClient;
use tributary_schema::{Catalog, Compiled, Schema, dir, reserved};

#[derive(Parser)]
#[command(
    name = "tributary-schema",
    version,
    about = "Check and deploy Tributary event schemas"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check compatibility of every schema version; exit 1 on a violation.
    Check {
        /// The schema directory (`<app>/<event>/<version>.json|.proto`).
        #[arg(long, default_value = "schemas")]
        dir: PathBuf,
        /// What is deployed: a directory, `git:<rev>` (the same directory
        /// at that revision), or a registry URL (`http://...`).
        #[arg(long)]
        base: Option<String>,
        /// Rule for subjects without one in `<dir>/compatibility.toml`.
        #[arg(long, default_value = "BACKWARD")]
        rule: String,
    },
    /// Register every version with a Confluent-compatible registry.
    Register {
        /// The schema directory.
        #[arg(long, default_value = "schemas")]
        dir: PathBuf,
        /// Registry base URL.
        #[arg(long, env = "TRIBUTARY_SCHEMA_REGISTRY")]
        registry: String,
        /// `user:password` for registries that need it.
        #[arg(long, env = "TRIBUTARY_SCHEMA_REGISTRY_AUTH")]
        basic_auth: Option<String>,
    },
    /// List subjects, versions and ids.
    List {
        /// The schema directory.
        #[arg(long, default_value = "schemas")]
        dir: PathBuf,
    },
    /// Generate typed tracking code for one app's events.
    Codegen {
        /// `typescript`, `kotlin` or `swift`.
        #[arg(long)]
        lang: String,
        /// The schema directory.
        #[arg(long, default_value = "schemas")]
        dir: PathBuf,
        /// The app whose events get a function each.
        #[arg(long)]
        app: String,
        /// The file to write (standard output without it).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write nothing; exit 1 if `--out` differs from what would be written.
        #[arg(long, requires = "out")]
        check: bool,
        /// Kotlin package (default `tributary.tracking.<app>`).
        #[arg(long)]
        package: Option<String>,
    },
}

/// The deployed catalog named by `--base`.
fn base_catalog(base: &str, dir: &Path) -> anyhow::Result<Catalog> {
    if base.starts_with("http://") || base.starts_with("https://") {
        let client = ConfluentClient::new(base, None, Duration::from_secs(10));
        return client
            .catalog(|s| s.contains('.'))
            .map_err(anyhow::Error::msg);
    }
    if let Some(rev) = base.strip_prefix("git:") {
        let tmp =
            std::env::temp_dir().join(format!("tributary-schema-base-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp)?;
        let top = git(dir, &["rev-parse", "--show-toplevel"])?;
        let abs = dir.canonicalize()?;
        let rel = abs
            .strip_prefix(top.trim())
            .context("the schema directory is not inside the git work tree")?
            .to_string_lossy()
            .into_owned();
        let listing = git(
            dir,
            &[
                "ls-tree",
                "-r",
                "--name-only",
                "--full-name",
                rev,
                "--",
                &abs.to_string_lossy(),
            ],
        )?;
        for file in listing.lines() {
            let text = git(dir, &["show", &format!("{rev}:{file}")])?;
            let local = tmp.join(
                Path::new(file)
                    .strip_prefix(&rel)
                    .unwrap_or(Path::new(file)),
            );
            if let Some(parent) = local.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(local, text)?;
        }
        let c = dir::read(&tmp).map_err(anyhow::Error::msg);
        let _ = std::fs::remove_dir_all(&tmp);
        return c;
    }
    dir::read(Path::new(base)).map_err(anyhow::Error::msg)
}

fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .context("cannot run git")?;
    if !out.status.success() {
        bail!(
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn check(dir: &Path, base: Option<&str>, rule: &str) -> anyhow::Result<bool> {
    let rules = Rules::load(dir, rule).map_err(anyhow::Error::msg)?;
    let current = dir::read(dir).map_err(anyhow::Error::msg)?;
    let deployed = match base {
        Some(b) => Some(base_catalog(b, dir)?),
        None => None,
    };
    let mut ok = true;
    let mut checked = 0;
    for subject in current.subjects() {
        let rule = rules.of(subject);
        let versions = current.versions(subject).unwrap_or_default();
        let old_versions: Vec<&Schema> = deployed
            .as_ref()
            .and_then(|d| d.versions(subject))
            .map(|v| v.iter().map(AsRef::as_ref).collect())
            .unwrap_or_default();
        // A deployed version must never change: its id is in records.
        for old in &old_versions {
            match versions.iter().find(|v| v.version == old.version) {
                Some(v) if v.text != old.text => {
                    println!(
                        "FAIL {subject} v{}: edited after it was deployed; add a new version instead",
                        old.version
                    );
                    ok = false;
                }
                None => {
                    println!(
                        "FAIL {subject} v{}: deleted after it was deployed",
                        old.version
                    );
                    ok = false;
                }
                Some(_) => {}
            }
        }
        for (i, new) in versions.iter().enumerate() {
            if let Err(e) = Compiled::compile(new) {
                println!("FAIL {subject} v{}: {e}", new.version);
                ok = false;
                continue;
            }
            let deployed_already = old_versions
                .iter()
                .any(|o| o.version == new.version && o.text == new.text);
            if deployed.is_some() && deployed_already {
                continue;
            }
            let mut earlier: Vec<&Schema> = old_versions
                .iter()
                .copied()
                .filter(|o| o.version < new.version)
                .collect();
            for e in &versions[..i] {
                if !earlier.iter().any(|o| o.version == e.version) {
                    earlier.push(e);
                }
            }
            earlier.sort_by_key(|s| s.version);
            checked += 1;
            let violations =
                compat::check_subject(rule, &earlier, new).map_err(anyhow::Error::msg)?;
            if violations.is_empty() {
                println!(
                    "ok   {subject} v{} ({}) is {} compatible",
                    new.version,
                    new.id,
                    rule.as_str()
                );
            } else {
                ok = false;
                for v in violations {
                    println!("FAIL {subject} v{}: {v}", new.version);
                }
            }
        }
    }
    println!(
        "{checked} version(s) checked; {}",
        if ok {
            "all compatible"
        } else {
            "incompatible changes found"
        }
    );
    Ok(ok)
}

/// `codegen`: writes the file, prints it, or (`check`) compares it.
fn generate(
    lang: &str,
    dir: &Path,
    app: &str,
    out: Option<&Path>,
    check: bool,
    package: Option<&str>,
) -> anyhow::Result<bool> {
    let lang = Lang::parse(lang)
        .with_context(|| format!("unknown --lang {lang:?}; use typescript, kotlin or swift"))?;
    let catalog = dir::read(dir).map_err(anyhow::Error::msg)?;
    let code = codegen::generate(&catalog, &codegen::Request { app, lang, package })
        .map_err(anyhow::Error::msg)?;
    match (out, check) {
        (Some(path), true) => {
            if std::fs::read_to_string(path).ok().as_deref() == Some(code.as_str()) {
                println!(
                    "ok   {} is up to date with {}",
                    path.display(),
                    dir.display()
                );
                return Ok(true);
            }
            println!(
                "FAIL {} is out of date with the schemas in {}: run the same command without --check",
                path.display(),
                dir.display()
            );
            Ok(false)
        }
        (Some(path), false) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(path, &code)
                .with_context(|| format!("cannot write {}", path.display()))?;
            println!("wrote {}", path.display());
            Ok(true)
        }
        (None, _) => {
            print!("{code}");
            Ok(true)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<bool> {
    match cli.command {
        Command::Check { dir, base, rule } => check(&dir, base.as_deref(), &rule),
        Command::Register {
            dir,
            registry,
            basic_auth,
        } => {
            let mut catalog = dir::read(&dir).map_err(anyhow::Error::msg)?;
            reserved::add_missing(&mut catalog).map_err(anyhow::Error::msg)?;
            let client =
                ConfluentClient::new(&registry, basic_auth.as_deref(), Duration::from_secs(10));
            for subject in catalog.subjects() {
                for s in catalog.versions(subject).unwrap_or_default() {
                    let id = client
                        .register(subject, s.schema_type, &s.text)
                        .map_err(anyhow::Error::msg)?;
                    println!("registered {subject} v{} as id {id}", s.version);
                }
            }
            Ok(true)
        }
        Command::Codegen {
            lang,
            dir,
            app,
            out,
            check,
            package,
        } => generate(&lang, &dir, &app, out.as_deref(), check, package.as_deref()),
        Command::List { dir } => {
            let catalog = dir::load(&dir).map_err(anyhow::Error::msg)?;
            for subject in catalog.subjects() {
                for s in catalog.versions(subject).unwrap_or_default() {
                    println!(
                        "{subject}\tv{}\t{}\tid {}",
                        s.version,
                        s.schema_type.as_str(),
                        s.id
                    );
                }
            }
            Ok(true)
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("tributary-schema: {e:#}");
            ExitCode::from(2)
        }
    }
}
