//! The answer parser and the windows' alignment.

use super::*;

fn parse(body: &str) -> Result<Vec<Point>, PromError> {
    parse_matrix("q", body.as_bytes())
}

#[test]
fn a_matrix_gives_its_points_and_nan_or_inf_is_not_observed() -> Result<(), PromError> {
    let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{},"values":[[1700000001,"3"],[1700000002.5,"NaN"],[1700000003,"+Inf"],
        [1700000004,"-Inf"],[1700000005,"0.25"],[1700000006,"1e3"]]}]}}"#;
    let points = parse(body)?;
    assert_eq!(
        points,
        vec![
            (1_700_000_001.0, Some(3.0)),
            (1_700_000_002.5, None),
            (1_700_000_003.0, None),
            (1_700_000_004.0, None),
            (1_700_000_005.0, Some(0.25)),
            (1_700_000_006.0, Some(1000.0)),
        ]
    );
    Ok(())
}

#[test]
fn an_empty_result_is_no_point() -> Result<(), PromError> {
    let body = r#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
    assert_eq!(parse(body)?, vec![]);
    Ok(())
}

#[test]
fn an_error_names_the_query_and_prometheus_reason() {
    let body =
        r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected \")\""}"#;
    let e = parse(body).err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        e,
        "query \"q\": Prometheus refused it (bad_data): 1:5: parse error: unexpected \")\""
    );
}

#[test]
fn several_series_must_be_aggregated() {
    let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{"pod":"a"},"values":[[1,"1"]]},{"metric":{"pod":"b"},"values":[[1,"2"]]}]}}"#;
    let e = parse(body).err();
    assert!(
        matches!(&e, Some(PromError::Series { count: 2, .. })),
        "{e:?}"
    );
    let msg = e.map(|e| e.to_string()).unwrap_or_default();
    assert!(
        msg.contains("\"q\" returned 2 series ({pod=\"a\"}, {pod=\"b\"}...)"),
        "{msg}"
    );
    assert!(msg.contains("sum() or avg()"), "{msg}");
}

#[test]
fn other_answers_are_errors_not_values() {
    let vector = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
    assert!(matches!(parse(vector), Err(PromError::Decode { .. })));
    assert!(matches!(parse("<html>"), Err(PromError::Decode { .. })));
    let bad_value = r#"{"status":"success","data":{"resultType":"matrix","result":[
        {"metric":{},"values":[[1,"x"]]}]}}"#;
    assert_eq!(parse(bad_value).ok(), Some(vec![(1.0, None)]));
}

#[test]
fn each_window_takes_the_point_at_its_end() {
    // A run from t = 1000.000 s in windows of 250 ms: window i is (1000 + i/4, 1000 + (i+1)/4].
    let grid = Grid {
        start_ms: 1_000_000,
        step_ms: 250,
        windows: 4,
    };
    assert_eq!(
        (grid.end_ms(0), grid.end_ms(3), grid.last_ms()),
        (1_000_250, 1_001_000, 1_001_000)
    );
    let points = [
        (999.75, Some(9.0)),    // before the run: ignored
        (1000.0, Some(9.0)),    // the run's start is no window's end
        (1000.25, Some(1.0)),   // window 0
        (1000.75, Some(3.0)),   // window 2; window 1 has no point: None
        (1001.0001, Some(4.0)), // window 3, to the millisecond
        (1001.25, Some(9.0)),   // after the run: ignored
    ];
    assert_eq!(
        grid.assign(&points),
        vec![Some(1.0), None, Some(3.0), Some(4.0)]
    );
    assert_eq!(parse::seconds(1_000_250), "1000.250");
    assert_eq!(parse::seconds(5), "0.005");
}

#[test]
fn only_transport_and_server_errors_are_asked_again() {
    let refused = |t: &str| PromError::Refused {
        query: "q".into(),
        error_type: t.into(),
        error: String::new(),
    };
    assert!(!refused("bad_data").transient());
    assert!(refused("timeout").transient());
    let series = PromError::Series {
        query: "q".into(),
        count: 2,
        labels: String::new(),
    };
    assert!(!series.transient());
}

#[test]
fn the_token_is_not_in_debug_output() -> Result<(), PromError> {
    let mut prom = Prometheus::new(
        "http://u:pw@127.0.0.1:9/prefix/",
        "SCALEBENCH_PROMQL_TEST_UNSET",
        &TlsOptions::default(),
    )?;
    assert!(prom.token.is_none());
    prom.token = Some("s3cr3t".into());
    let shown = format!("{prom:?}");
    assert!(
        !shown.contains("s3cr3t") && !shown.contains("pw@"),
        "{shown}"
    );
    assert!(shown.contains("/prefix/api/v1/query_range"), "{shown}");
    Ok(())
}

#[test]
fn a_query_sends_its_grid_and_the_bearer_token() -> Result<(), Box<dyn std::error::Error>> {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || -> std::io::Result<String> {
        let (mut s, _) = listener.accept()?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut buf = vec![0; 8192];
        let n = s.read(&mut buf)?;
        let body = r#"{"status":"success","data":{"resultType":"matrix","result":[
            {"metric":{},"values":[[1000.5,"2"],[1001,"3"]]}]}}"#;
        write!(
            s,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    });
    let mut prom = Prometheus::new(
        &format!("http://{addr}/prom"),
        "SCALEBENCH_PROMQL_TEST_UNSET",
        &TlsOptions::default(),
    )?;
    prom.token = Some("s3cr3t".into());
    let grid = Grid {
        start_ms: 1_000_000,
        step_ms: 500,
        windows: 2,
    };
    assert_eq!(prom.windows("sum(up)", &grid)?, vec![Some(2.0), Some(3.0)]);
    let request = server.join().map_err(|_| "the server panicked")??;
    let line = request.lines().next().unwrap_or_default();
    assert_eq!(
        line,
        "GET /prom/api/v1/query_range?query=sum%28up%29&start=1000.500&end=1001.000&step=0.500 HTTP/1.1"
    );
    assert!(
        request
            .to_ascii_lowercase()
            .contains("authorization: bearer s3cr3t"),
        "{request}"
    );
    Ok(())
}
