//! `local-events`: the event pipeline of the local stack, as Lambda runs it in AWS.
//!
//!   local-events run <invoke-url>
//!       Feeds the table's stream (`TABLE_NAME`, DynamoDB Local) to the stream consumers the
//!       template declares, its queues to their consumers, and runs its scheduled functions
//!       on their rates, invoking them through `cargo lambda watch`'s Invoke API at
//!       <invoke-url>; and runs the stand-ins of the services `SUBSCRIBER_SERVICES` names,
//!       which acknowledge each new user (`LOCAL_SILENT_SERVICES` and
//!       `LOCAL_FAILING_SERVICES`, comma-separated, make one stay silent or fail). Runs until
//!       stopped.
//!   local-events receive <queue-name>
//!       Prints (and deletes) the messages waiting in a local subscriber queue, e.g.
//!       `social-service-user-events`.

use auth_tools::mapping::{EventSources, Invoker, StreamPoller, local_queue_name, run_schedule};
use auth_tools::queues::{Behaviour, StandIn, queue_url, run_queue, run_stand_in};
use auth_tools::setup;
use auth_tools::stream::{Error, TableStream};

fn usage() -> Error {
    "usage: local-events run <invoke-url> | local-events receive <queue-name>".into()
}

/// A file of the workspace root (the current directory).
fn workspace_file(name: &str) -> Result<String, Error> {
    std::fs::read_to_string(name)
        .map_err(|e| format!("{name} (run from the workspace root): {e}").into())
}

async fn run(invoke_url: &str) -> Result<(), Error> {
    let sources = EventSources::from_template(
        &workspace_file("template.yaml")?,
        &workspace_file("Makefile")?,
    )?;
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME is not set")?;
    let sdk = auth_shared::aws::load_sdk_config().await;
    let invoker = Invoker::new(invoke_url);
    let mut tasks = Vec::new();
    for source in sources.streams {
        eprintln!(
            "local-events: {table}'s stream -> {} (batches of {}, {} retries{})",
            source.function,
            source.batch_size,
            source.max_retries,
            if source.filters.is_empty() {
                String::new()
            } else {
                format!(", filter {}", serde_json::to_string(&source.filters)?)
            }
        );
        let stream = TableStream::of_table(&sdk, &table).await?;
        tasks.push(tokio::spawn(
            StreamPoller::new(stream, source, invoker.clone()).run(),
        ));
    }
    for schedule in sources.schedules {
        eprintln!(
            "local-events: {} every {} s",
            schedule.function,
            schedule.every.as_secs()
        );
        tasks.push(tokio::spawn(run_schedule(schedule, invoker.clone())));
    }
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    for source in sources.queues {
        let name = local_queue_name(&source.queue);
        let url = queue_url(&sqs, &name).await?;
        eprintln!(
            "local-events: queue {name} -> {} (batches of {})",
            source.function, source.batch_size
        );
        tasks.push(tokio::spawn(run_queue(
            source,
            url,
            sqs.clone(),
            invoker.clone(),
        )));
    }
    // The subscribing services' stand-ins, for the services SUBSCRIBER_SERVICES configures.
    let services = auth_shared::provisioning::services_from_env()?;
    let listed = |var: &str, service: &str| {
        std::env::var(var)
            .unwrap_or_default()
            .split(',')
            .any(|s| s.trim() == service)
    };
    let ack_url = queue_url(&sqs, setup::ACK_QUEUE).await?;
    for (service, queue) in setup::STAND_INS {
        if !services.iter().any(|s| s == service) {
            continue;
        }
        let behaviour = if listed("LOCAL_SILENT_SERVICES", service) {
            Behaviour::Silent
        } else if listed("LOCAL_FAILING_SERVICES", service) {
            Behaviour::Fail
        } else {
            Behaviour::Acknowledge
        };
        eprintln!("local-events: the {service} stand-in reads {queue} and answers {behaviour:?}");
        let stand_in = StandIn {
            service: (*service).to_owned(),
            queue: (*queue).to_owned(),
            behaviour,
        };
        let url = queue_url(&sqs, queue).await?;
        tasks.push(tokio::spawn(run_stand_in(
            stand_in,
            url,
            ack_url.clone(),
            sqs.clone(),
        )));
    }
    tokio::signal::ctrl_c().await?;
    for task in tasks {
        task.abort();
    }
    Ok(())
}

async fn receive(queue: &str) -> Result<(), Error> {
    let sdk = auth_shared::aws::load_sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let url = queue_url(&sqs, queue).await?;
    loop {
        let out = sqs
            .receive_message()
            .queue_url(&url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(());
        }
        for message in messages {
            println!("{}", message.body().unwrap_or_default());
            sqs.delete_message()
                .queue_url(&url)
                .receipt_handle(message.receipt_handle().unwrap_or_default())
                .send()
                .await?;
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["run", url] => run(url).await,
        ["receive", queue] => receive(queue).await,
        _ => Err(usage()),
    }
}
