//! Unit tests of the exposition merge, plus a small validator the tests share.

use super::*;

const CATALOG: &str = "\
# HELP http_requests_total Requests handled.
# TYPE http_requests_total counter
http_requests_total{service=\"catalog\",method=\"GET\",route=\"/products\",status=\"200\"} 5
# HELP http_request_duration_seconds Request latency.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{service=\"catalog\",le=\"0.1\"} 4
http_request_duration_seconds_bucket{service=\"catalog\",le=\"+Inf\"} 5
http_request_duration_seconds_sum{service=\"catalog\"} 0.2
http_request_duration_seconds_count{service=\"catalog\"} 5
# TYPE ecommerce_products_total gauge
ecommerce_products_total{service=\"catalog\"} 42
";

const CART: &str = "\
# HELP http_requests_total Requests handled.
# TYPE http_requests_total counter
http_requests_total{service=\"cart\",method=\"GET\",route=\"/cart\",status=\"200\"} 2
# HELP http_request_duration_seconds Request latency.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{service=\"cart\",le=\"0.1\"} 2
http_request_duration_seconds_bucket{service=\"cart\",le=\"+Inf\"} 2
http_request_duration_seconds_sum{service=\"cart\"} 0.01
http_request_duration_seconds_count{service=\"cart\"} 2
";

/// Checks what Prometheus requires of one exposition: each family's HELP and TYPE at most once
/// and before its samples, a family's samples contiguous, no series twice. Returns the families
/// in order.
pub(crate) fn assert_valid(text: &str) -> Vec<String> {
    let mut families: Vec<String> = Vec::new();
    let mut seen_series = HashSet::new();
    let mut declared: HashMap<String, String> = HashMap::new();
    let mut headers = HashSet::new();
    for line in text.lines() {
        if let Some(comment) = line.strip_prefix("# ") {
            let mut words = comment.split_whitespace();
            let (keyword, name) = (words.next().unwrap(), words.next().unwrap().to_owned());
            assert!(headers.insert((keyword.to_owned(), name.clone())), "{keyword} {name} twice:\n{text}");
            if keyword == "TYPE" {
                declared.insert(name.clone(), words.next().unwrap().to_owned());
            }
            if families.last() != Some(&name) {
                assert!(!families.contains(&name), "family {name} split:\n{text}");
                families.push(name);
            }
            continue;
        }
        let key = series_key(line).unwrap_or_else(|| panic!("invalid sample line {line:?}"));
        assert!(seen_series.insert(key.to_owned()), "series {key} twice:\n{text}");
        let name = &key[..key.find('{').unwrap_or(key.len())];
        let family = SUB_SERIES_SUFFIXES
            .iter()
            .filter_map(|suffix| name.strip_suffix(suffix))
            .find(|base| declared.get(*base).is_some_and(|kind| kind == "histogram" || kind == "summary"))
            .unwrap_or(name)
            .to_owned();
        if families.last() != Some(&family) {
            assert!(!families.contains(&family), "family {family} split:\n{text}");
            families.push(family);
        }
    }
    families
}

#[test]
fn help_and_type_appear_once_with_every_sample_under_them() {
    let merged = merge([CATALOG, CART]);
    let families = assert_valid(&merged);
    assert_eq!(families, ["http_requests_total", "http_request_duration_seconds", "ecommerce_products_total"]);
    assert_eq!(merged.matches("# TYPE http_requests_total counter").count(), 1);
    assert_eq!(merged.matches("# HELP http_request_duration_seconds").count(), 1);
    assert!(merged.contains("service=\"catalog\",method=\"GET\""));
    assert!(merged.contains("http_requests_total{service=\"cart\""));
}

#[test]
fn histogram_sub_series_stay_under_their_family_in_source_order() {
    let merged = merge([CATALOG, CART]);
    let lines: Vec<&str> = merged.lines().collect();
    let start = lines.iter().position(|l| *l == "# TYPE http_request_duration_seconds histogram").unwrap();
    let block: Vec<&str> = lines[start + 1..start + 9].to_vec();
    assert!(block.iter().all(|l| l.starts_with("http_request_duration_seconds_")), "{block:#?}");
    assert!(block[0].contains("catalog") && block[0].contains("le=\"0.1\""));
    assert!(block[3].starts_with("http_request_duration_seconds_count{service=\"catalog\"}"));
    assert!(block[7].starts_with("http_request_duration_seconds_count{service=\"cart\"}"));
}

#[test]
fn identical_series_appear_once_and_the_first_value_wins() {
    // Two apps in one process share a recorder: the same series comes back twice, maybe changed.
    let later = CATALOG.replace("} 5\n# HELP http_request_duration", "} 6\n# HELP http_request_duration");
    let merged = merge([CATALOG, &later, CATALOG]);
    assert_valid(&merged);
    assert_eq!(merged.matches("http_requests_total{service=\"catalog\"").count(), 1);
    assert!(merged.contains("status=\"200\"} 5\n"));
}

#[test]
fn samples_without_metadata_and_a_family_declared_later_are_grouped() {
    let merged =
        merge(["up_untyped{a=\"1\"} 1\n", "# TYPE jobs gauge\njobs 3\n", "up_untyped{a=\"2\"} 0\njobs{x=\"y\"} 1\n"]);
    assert_eq!(assert_valid(&merged), ["up_untyped", "jobs"]);
    assert_eq!(merged, "up_untyped{a=\"1\"} 1\nup_untyped{a=\"2\"} 0\n# TYPE jobs gauge\njobs 3\njobs{x=\"y\"} 1\n");
}

#[test]
fn summaries_keep_quantiles_sum_and_count_together() {
    let summary =
        "# TYPE rpc_seconds summary\nrpc_seconds{quantile=\"0.5\"} 0.1\nrpc_seconds_sum 3\nrpc_seconds_count 30\n";
    let merged = merge([summary, "# TYPE other counter\nother 1\n"]);
    assert_eq!(assert_valid(&merged), ["rpc_seconds", "other"]);
}

#[test]
fn label_values_may_hold_braces_and_escaped_quotes() {
    let text = "# TYPE odd gauge\nodd{path=\"/a}b\",q=\"say \\\"hi\\\"\"} 1\nodd{path=\"/a}c\"} 2\n";
    let merged = merge([text, text]);
    assert_eq!(merged, text);
}

#[test]
fn garbage_and_foreign_comments_are_dropped() {
    let merged = merge(["<html>oops</html>\n# random comment\nhello world\nok_metric 1 1700000000000\n\n"]);
    assert_eq!(merged, "ok_metric 1 1700000000000\n");
}

#[test]
fn special_float_values_are_valid_samples() {
    let merged = merge(["# TYPE g gauge\ng{a=\"1\"} +Inf\ng{a=\"2\"} -Inf\ng{a=\"3\"} NaN\n"]);
    assert_eq!(merged.lines().count(), 4);
}
