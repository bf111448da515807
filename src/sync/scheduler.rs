//! Cron schedules (tokio-cron-scheduler), one job per environment. Every replica ticks; the
//! environment's lease and the tick's time let exactly one start the tick's run, and the
//! others skip it quietly. A tick while this process's run is under way is skipped too (the
//! scheduler itself has no overlap protection); a failing environment never delays another
//! because every run is its own task.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use super::{SyncEngine, Ticked};
use crate::config::Config;

pub async fn start(
    engine: Arc<SyncEngine>,
    config: &Config,
) -> Result<JobScheduler, JobSchedulerError> {
    let scheduler = JobScheduler::new().await?;
    for env in &config.environments {
        let name = env.name.clone();
        let engine = engine.clone();
        let schedule = env.schedule(&config.sync).to_string();
        let cron = parse(&schedule)?;
        let job = Job::new_async(schedule.as_str(), move |_, _| {
            let (engine, name) = (engine.clone(), name.clone());
            let tick = tick_of(&cron, Utc::now());
            Box::pin(async move { scheduled(&engine, &name, &tick).await })
        })?;
        scheduler.add(job).await?;
        tracing::info!(env = %env.name, schedule, "sync scheduled");
    }
    scheduler.start().await?;
    Ok(scheduler)
}

/// The schedule as the scheduler reads it (cron with seconds, in UTC).
fn parse(schedule: &str) -> Result<Cron, JobSchedulerError> {
    CronParser::builder()
        .seconds(Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(schedule)
        .map_err(|_| JobSchedulerError::ParseSchedule)
}

/// The time a tick firing at `now` was scheduled for (RFC 3339, milliseconds): the same on
/// every replica however late each fires, so it names the tick (pure).
fn tick_of(cron: &Cron, now: DateTime<Utc>) -> String {
    // Cron counts whole seconds: the second `now` falls in matches as a whole.
    let second = now.with_nanosecond(0).unwrap_or(now);
    cron.find_previous_occurrence(&second, true)
        .unwrap_or(second)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

async fn scheduled(engine: &Arc<SyncEngine>, name: &str, tick: &str) {
    match engine.tick(name, tick).await {
        Ok(Ticked::Started(_)) => {}
        Ok(Ticked::Running(run_id)) => {
            tracing::info!(env = %name, run_id, "scheduled sync skipped: a run is still under way")
        }
        Ok(Ticked::Led(leader)) => {
            tracing::debug!(env = %name, replica = engine.replica(), tick, leader,
                "scheduled sync skipped: another replica leads it")
        }
        Ok(Ticked::Taken(run_id)) => {
            tracing::debug!(env = %name, replica = engine.replica(), tick, run_id,
                "scheduled sync skipped: another replica ran this tick")
        }
        Err(e) => tracing::error!(env = %name, error = %e, "scheduled sync could not start"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(t)
            .map(|t| t.with_timezone(&Utc))
            .unwrap()
    }

    #[test]
    fn a_tick_is_named_by_its_scheduled_time_however_late_it_fires() {
        let every_5s = parse("*/5 * * * * *").unwrap();
        assert_eq!(
            tick_of(&every_5s, at("2026-01-05T09:10:05.000Z")),
            "2026-01-05T09:10:05.000Z"
        );
        // Two replicas firing the same tick 30 ms and 900 ms late agree on it.
        assert_eq!(
            tick_of(&every_5s, at("2026-01-05T09:10:05.030Z")),
            tick_of(&every_5s, at("2026-01-05T09:10:05.900Z"))
        );
        let five_minutes = parse("0 */5 * * * *").unwrap();
        assert_eq!(
            tick_of(&five_minutes, at("2026-01-05T09:10:01.250Z")),
            "2026-01-05T09:10:00.000Z"
        );
    }
}
