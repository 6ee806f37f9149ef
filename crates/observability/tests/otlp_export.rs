//! OTLP export against a real receiver: a small HTTP/1.1 server on 127.0.0.1 takes what the exporter
//! sends and decodes it with the official OTLP protobuf definitions (`opentelemetry-proto`). One test
//! per file: it installs the global subscriber.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point};
use prompt_manager_core::{Error, LabelName, NotFound, Observer, PromptExecution, PromptId};
use prompt_manager_observability::attributes::{
    GEN_AI_PROMPT_CONTENT_HASH, GEN_AI_PROMPT_LABEL, GEN_AI_PROMPT_NAME, GEN_AI_PROMPT_VERSION, RENDER_SPAN_NAME,
};
use prompt_manager_observability::{LogFormat, MetricsObserver, TelemetryConfig, init_telemetry_with};
use prost::Message as _;

/// One request the receiver got.
struct Received {
    path: String,
    content_type: String,
    body: Vec<u8>,
}

/// Starts the receiver; returns its base URL and the requests it gets.
fn receiver() -> std::io::Result<(String, mpsc::Receiver<Received>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let base = format!("http://{}", listener.local_addr()?);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let tx = tx.clone();
            std::thread::spawn(move || serve(stream, &tx));
        }
    });
    Ok((base, rx))
}

fn invalid(what: &str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned())
}

/// Serves HTTP/1.1 requests on one connection (keep-alive) until the client closes it.
fn serve(stream: TcpStream, tx: &mpsc::Sender<Received>) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
        let (mut length, mut chunked, mut content_type) = (0usize, false, String::new());
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').ok_or_else(|| invalid(header))?;
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse().map_err(|_| invalid(value))?,
                "content-type" => content_type = value.to_owned(),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                reader.read_line(&mut size)?;
                let size = usize::from_str_radix(size.trim(), 16).map_err(|_| invalid(&size))?;
                let mut chunk = vec![0; size + 2];
                reader.read_exact(&mut chunk)?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            body.resize(length, 0);
            reader.read_exact(&mut body)?;
        }
        // An empty protobuf message is a valid Export…ServiceResponse: full success.
        writer.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n")?;
        let _ = tx.send(Received {
            path,
            content_type,
            body,
        });
    }
}

fn string_attr<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref() {
            Some(AnyValue {
                value: Some(any_value::Value::StringValue(s)),
            }) => Some(s.as_str()),
            _ => None,
        })
}

#[test]
fn spans_and_metrics_reach_a_real_otlp_http_receiver() {
    let (base, requests) = receiver().unwrap();
    let config = TelemetryConfig::from_env(LogFormat::Json, "info")
        .with_endpoint(&base)
        .with_service_name("prompt-manager-test");
    let telemetry = init_telemetry_with(config).unwrap();
    assert!(telemetry.is_exporting());

    // A second setup is refused, not a panic.
    let again = init_telemetry_with(TelemetryConfig::from_env(LogFormat::Human, "info").with_endpoint(&base));
    assert!(again.is_err());

    let metrics = MetricsObserver::default();
    metrics.export_to(&telemetry.meter().unwrap());

    // A render span as the core opens it: the attribute names are this crate's constants.
    {
        let span = tracing::info_span!(
            RENDER_SPAN_NAME,
            { GEN_AI_PROMPT_NAME } = "support/triage",
            { GEN_AI_PROMPT_VERSION } = "1.2.0",
            { GEN_AI_PROMPT_LABEL } = "production",
            { GEN_AI_PROMPT_CONTENT_HASH } = "sha256:0123abcd",
        );
        let _entered = span.enter();
        tracing::info!("rendering");
    }
    let triage = PromptId::new("support/triage").unwrap();
    let v120 = semver::Version::new(1, 2, 0);
    let production = LabelName::new("production").unwrap();
    let execution = |micros: u64, error: Option<&'static str>| PromptExecution {
        id: 1,
        reference: "support/triage@production",
        prompt_id: Some(&triage),
        version: Some(&v120),
        label: Some(&production),
        duration: Duration::from_micros(micros),
        error: error.map(Cow::Borrowed),
        output_bytes: 12,
        token_estimate: 3,
    };
    metrics.on_render_complete(&execution(40, None));
    metrics.on_render_complete(&execution(60, None));
    let not_found = Error::NotFound(NotFound::Prompt(PromptId::new("support/triage").unwrap()));
    metrics.on_render_error(&execution(5, Some("not_found")), &not_found);

    telemetry.shutdown().unwrap();

    let (mut traces, mut exported_metrics) = (Vec::new(), Vec::new());
    while traces.is_empty() || exported_metrics.is_empty() {
        let got = requests
            .recv_timeout(Duration::from_secs(20))
            .expect("the receiver got traces and metrics");
        assert_eq!(got.content_type, "application/x-protobuf", "{}", got.path);
        match got.path.as_str() {
            "/v1/traces" => traces.push(ExportTraceServiceRequest::decode(got.body.as_slice()).unwrap()),
            "/v1/metrics" => exported_metrics.push(ExportMetricsServiceRequest::decode(got.body.as_slice()).unwrap()),
            other => panic!("unexpected path {other}"),
        }
    }

    // Traces: the span, its GenAI attributes, and the service name.
    let resource_spans: Vec<_> = traces.iter().flat_map(|r| &r.resource_spans).collect();
    let service = resource_spans[0].resource.as_ref().unwrap();
    assert_eq!(
        string_attr(&service.attributes, "service.name"),
        Some("prompt-manager-test")
    );
    let span = resource_spans
        .iter()
        .flat_map(|r| &r.scope_spans)
        .flat_map(|s| &s.spans)
        .find(|s| s.name == RENDER_SPAN_NAME)
        .expect("the render span was exported");
    assert_eq!(
        string_attr(&span.attributes, "gen_ai.prompt.name"),
        Some("support/triage")
    );
    assert_eq!(string_attr(&span.attributes, "gen_ai.prompt.version"), Some("1.2.0"));
    assert_eq!(string_attr(&span.attributes, "gen_ai.prompt.label"), Some("production"));
    assert_eq!(
        string_attr(&span.attributes, "gen_ai.prompt.content_hash"),
        Some("sha256:0123abcd")
    );
    assert_eq!(span.trace_id.len(), 16);
    assert!(
        span.events.iter().any(|e| e.name == "rendering"),
        "the log line is a span event"
    );

    // Metrics: counters by prompt and the latency histogram with our buckets.
    let all: Vec<_> = exported_metrics
        .iter()
        .flat_map(|r| &r.resource_metrics)
        .flat_map(|r| &r.scope_metrics)
        .flat_map(|s| &s.metrics)
        .collect();
    let metric = |name: &str| {
        all.iter()
            .rev()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} was exported"))
    };
    let Some(metric::Data::Sum(renders)) = &metric("prompt_manager.renders").data else {
        panic!("renders is a sum");
    };
    assert!(renders.is_monotonic);
    let point = renders
        .data_points
        .iter()
        .find(|p| string_attr(&p.attributes, GEN_AI_PROMPT_NAME) == Some("support/triage"))
        .unwrap();
    assert_eq!(point.value, Some(number_data_point::Value::AsInt(3)));
    // Renders carry the version and label, as the Prometheus series do.
    assert_eq!(string_attr(&point.attributes, GEN_AI_PROMPT_VERSION), Some("1.2.0"));
    assert_eq!(string_attr(&point.attributes, GEN_AI_PROMPT_LABEL), Some("production"));

    let Some(metric::Data::Sum(errors)) = &metric("prompt_manager.render.errors").data else {
        panic!("errors is a sum");
    };
    let point = &errors.data_points[0];
    assert_eq!(string_attr(&point.attributes, "error.type"), Some("not_found"));
    assert_eq!(
        string_attr(&point.attributes, "prompt_manager.error.kind"),
        Some("not_found")
    );
    assert_eq!(point.value, Some(number_data_point::Value::AsInt(1)));

    let duration = metric("prompt_manager.render.duration");
    assert_eq!(duration.unit, "s");
    let Some(metric::Data::Histogram(histogram)) = &duration.data else {
        panic!("duration is a histogram");
    };
    let point = &histogram.data_points[0];
    assert_eq!(point.count, 3);
    assert_eq!(point.explicit_bounds.len(), 19);
    assert!((point.explicit_bounds[0] - 1e-6).abs() < 1e-12);
    assert!((point.sum.unwrap() - 105e-6).abs() < 1e-9);
}
