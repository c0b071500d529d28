//! Commands inside machines: captured (orbdock's own checks), streamed with this process's
//! stdin/stdout/stderr (`run`), and the file copies of `push`/`pull`.

use std::io::{Read, Write};

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecOptions, StartExecResults};
use bollard::query_parameters::LogsOptions;
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::engine::Engine;

/// Runs `cmd` as `user` and returns (exit code, stdout, stderr).
pub fn capture(
    engine: &Engine,
    container: &str,
    user: &str,
    cmd: &[String],
) -> Result<(i64, Vec<u8>, Vec<u8>), bollard::errors::Error> {
    engine.block_on(async {
        let exec = engine
            .docker
            .create_exec(
                container,
                CreateExecOptions {
                    cmd: Some(cmd.to_vec()),
                    user: Some(user.to_string()),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    ..Default::default()
                },
            )
            .await?;
        let mut out = Vec::new();
        let mut err = Vec::new();
        if let StartExecResults::Attached { mut output, .. } = engine.docker.start_exec(&exec.id, None).await? {
            while let Some(item) = output.next().await {
                match item? {
                    LogOutput::StdErr { message } => err.extend_from_slice(&message),
                    other => out.extend_from_slice(&other.into_bytes()),
                }
            }
        }
        let code = engine.docker.inspect_exec(&exec.id).await?.exit_code.unwrap_or(1);
        Ok((code, out, err))
    })
}

/// How a streamed command runs.
pub struct Streamed<'a> {
    pub container: &'a str,
    pub user: &'a str,
    pub workdir: &'a str,
    pub env: Vec<String>,
    pub cmd: Vec<String>,
    /// Allocate a terminal (stdin is one).
    pub tty: bool,
}

/// Runs a command with this process's stdin, stdout and stderr; returns its exit code.
/// stdin is read on a thread of its own and its end is passed on, so `cat` and friends finish.
pub fn stream(engine: &Engine, s: Streamed<'_>) -> Result<i64, bollard::errors::Error> {
    engine.block_on(async {
        let exec = engine
            .docker
            .create_exec(
                s.container,
                CreateExecOptions {
                    cmd: Some(s.cmd.clone()),
                    user: Some(s.user.to_string()),
                    working_dir: Some(s.workdir.to_string()),
                    env: Some(s.env.clone()),
                    attach_stdin: Some(true),
                    attach_stdout: Some(true),
                    attach_stderr: Some(true),
                    tty: Some(s.tty),
                    ..Default::default()
                },
            )
            .await?;
        let started = engine
            .docker
            .start_exec(
                &exec.id,
                Some(StartExecOptions {
                    tty: s.tty,
                    ..Default::default()
                }),
            )
            .await?;
        if let StartExecResults::Attached { mut output, mut input } = started {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<u8>>(8);
            std::thread::spawn(move || {
                let mut stdin = std::io::stdin();
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match stdin.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if tx.blocking_send(buf[..n].to_vec()).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
            let feed = async move {
                while let Some(chunk) = rx.recv().await {
                    if input.write_all(&chunk).await.is_err() {
                        return;
                    }
                    let _ = input.flush().await;
                }
                // End of our stdin: half-close so the command sees end of file.
                let _ = input.shutdown().await;
            };
            let drain = async {
                let mut stdout = std::io::stdout();
                let mut stderr = std::io::stderr();
                while let Some(item) = output.next().await {
                    match item {
                        Ok(LogOutput::StdErr { message }) => {
                            let _ = stderr.write_all(&message);
                            let _ = stderr.flush();
                        }
                        Ok(other) => {
                            let _ = stdout.write_all(&other.into_bytes());
                            let _ = stdout.flush();
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            };
            tokio::pin!(feed);
            tokio::pin!(drain);
            // The command's output ending is the end, whether or not stdin has ended.
            let mut fed = false;
            loop {
                tokio::select! {
                    r = &mut drain => { r?; break; }
                    _ = &mut feed, if !fed => { fed = true; }
                }
            }
        }
        Ok(engine.docker.inspect_exec(&exec.id).await?.exit_code.unwrap_or(1))
    })
}

/// The container's console output (its stdout and stderr), the last `tail` lines if given.
pub fn logs(engine: &Engine, container: &str, tail: Option<usize>) -> Result<Vec<u8>, bollard::errors::Error> {
    let opts = LogsOptions {
        stdout: true,
        stderr: true,
        tail: tail.map_or_else(|| "all".to_string(), |n| n.to_string()),
        ..Default::default()
    };
    engine.block_on(collect_logs(engine.docker.logs(container, Some(opts))))
}

/// Collects a log stream into bytes.
async fn collect_logs(
    mut s: impl futures_util::Stream<Item = Result<bollard::container::LogOutput, bollard::errors::Error>> + Unpin,
) -> Result<Vec<u8>, bollard::errors::Error> {
    let mut out = Vec::new();
    while let Some(item) = s.next().await {
        out.extend_from_slice(&item?.into_bytes());
    }
    Ok(out)
}
