//! `cargo orbtest` / `cargo orbtest run`: run the tiers, report, exit with the documented code.

use crate::cli::{GlobalArgs, RunArgs};
use crate::errors::Result;
use crate::events::{Observer, Silent};
use crate::exit_code;
use crate::lifecycle::LifecycleOptions;
use crate::nextest::ForwardedArgs;
use crate::plan::{Plan, Selection};
use crate::report::{self, PlainProgress, Style};
use crate::runner::{RunOptions, Runner};

pub fn execute(global: &GlobalArgs, args: &RunArgs) -> Result<i32> {
    let (ws, config) = super::load(global)?;
    let plan = Plan::new(
        &config,
        &Selection {
            tiers: args.tier.clone(),
            ignore_needs: args.ignore_needs,
            no_fail_fast: args.no_fail_fast,
        },
    )?;
    let color = global.color.enabled();
    let options = RunOptions {
        forwarded: ForwardedArgs::split(&args.nextest_args),
        report_dir: args.report_dir.clone(),
        color,
        verbose: global.verbose,
        lifecycle: LifecycleOptions {
            start_orbstack: args.start_orbstack,
            no_wait: args.no_wait,
            keep_machines: args.keep_machines,
            rebuild_baselines: args.rebuild_baselines,
        },
    };
    let plain;
    let observer: &dyn Observer = if global.quiet {
        &Silent
    } else {
        plain = PlainProgress::new(std::io::stderr());
        &plain
    };
    let finished = Runner {
        ws: &ws,
        config: &config,
        plan: &plan,
        options: &options,
        observer,
    }
    .run()?;

    let written = report::write_reports(&finished.result, &finished.dir);
    let shown_dir = written.is_ok().then_some(finished.dir.report_dir.as_path());
    eprint!(
        "{}",
        report::render_summary(&finished.result, Style { color }, shown_dir)
    );
    if let Err(e) = written {
        super::print_error(&e, color);
        return Ok(exit_code::INFRASTRUCTURE);
    }
    Ok(finished.result.exit_code())
}
