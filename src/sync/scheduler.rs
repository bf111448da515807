//! Cron schedules (tokio-cron-scheduler), one job per environment. A tick while a run is under
//! way is skipped (the scheduler itself has no overlap protection); a failing environment never
//! delays another because every run is its own task.

use std::sync::Arc;

use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use super::{SyncEngine, Trigger};
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
        let job = Job::new_async(schedule.as_str(), move |_, _| {
            let engine = engine.clone();
            let name = name.clone();
            Box::pin(async move {
                match engine.trigger(&name, Trigger::Schedule).await {
                    Ok(t) if t.status == super::TriggerStatus::AlreadyRunning => {
                        tracing::info!(env = %name, run_id = t.run_id, "scheduled sync skipped: a run is still under way");
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(env = %name, error = %e, "scheduled sync could not start")
                    }
                }
            })
        })?;
        scheduler.add(job).await?;
        tracing::info!(env = %env.name, schedule, "sync scheduled");
    }
    scheduler.start().await?;
    Ok(scheduler)
}
