//! Directory Insights events API over real HTTP: paging, ordering, filters, errors, orgs.

mod common;

use std::collections::HashSet;

use common::*;
use serde_json::{Value, json};
use simulator::SimConfig;

#[tokio::test]
async fn paging_25000_events_returns_each_exactly_once_in_both_orders() {
    let sim = start(config(25_000)).await;
    let truth = ground_truth(&sim, None).await;
    assert_eq!(truth.len(), 25_000);
    let truth_ids: HashSet<String> = ids(&truth).into_iter().collect();

    let (asc, pages) = page_all(&sim, query(&["all"], &since_days(8)), None).await;
    assert_eq!(pages, 26, "25 full pages and a short last one");
    let asc_ids = ids(&asc);
    assert_eq!(
        unique(&asc_ids),
        truth_ids,
        "ground truth equals the union of pages"
    );
    let stamps: Vec<i64> = asc
        .iter()
        .map(|e| {
            chrono::DateTime::parse_from_rfc3339(e["timestamp"].as_str().unwrap())
                .unwrap()
                .timestamp_millis()
        })
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "ASC is ascending");

    let mut desc_query = query(&["all"], &since_days(8));
    desc_query["sort"] = json!("desc");
    let response = post_events(&sim, &desc_query, None).await;
    assert_eq!(header(&response, "x-sort"), "DESC");
    let (desc, _) = page_all(&sim, desc_query, None).await;
    let mut desc_ids = ids(&desc);
    unique(&desc_ids);
    desc_ids.reverse();
    assert_eq!(desc_ids, asc_ids, "DESC is ASC reversed");

    for service in ["sso", "radius"] {
        let (filtered, _) = page_all(&sim, query(&[service], &since_days(8)), None).await;
        let expected: HashSet<String> = truth
            .iter()
            .filter(|e| e["service"] == service)
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        assert!(!expected.is_empty());
        assert_eq!(unique(&ids(&filtered)), expected);
    }
    let (two, _) = page_all(&sim, query(&["sso", "ldap"], &since_days(8)), None).await;
    let expected = truth
        .iter()
        .filter(|e| e["service"] == "sso" || e["service"] == "ldap")
        .count();
    assert_eq!(unique(&ids(&two)).len(), expected);
    sim.shutdown().await;
}

#[tokio::test]
async fn headers_limits_and_sort_fallbacks() {
    let sim = start(config(2_500)).await;
    let since = since_days(8);
    let response = post_events(
        &sim,
        &json!({"service": ["all"], "start_time": since}),
        None,
    )
    .await;
    assert_eq!(header(&response, "x-limit"), "1000", "default limit");
    assert_eq!(header(&response, "x-result-count"), "1000");
    assert_eq!(header(&response, "x-sort"), "ASC");
    assert!(!header(&response, "x-request-id").is_empty());
    let after: Value = serde_json::from_str(&header(&response, "x-search_after")).unwrap();
    assert!(after[0].is_i64() && after[1].is_string());

    for (limit, expected) in [
        (json!(-3), "1000"),
        (json!("lots"), "1000"),
        (json!(50_000), "10000"),
        (json!(7), "7"),
    ] {
        let response = post_events(
            &sim,
            &json!({"service": ["all"], "start_time": since, "limit": limit}),
            None,
        )
        .await;
        assert_eq!(header(&response, "x-limit"), expected, "limit {limit}");
    }
    let response = post_events(
        &sim,
        &json!({"service": ["all"], "start_time": since, "sort": "sideways"}),
        None,
    )
    .await;
    assert_eq!(
        header(&response, "x-sort"),
        "ASC",
        "invalid sort silently becomes ASC"
    );
    let response = post_events(
        &sim,
        &json!({"service": ["all"], "start_time": since, "sort": "DeSc"}),
        None,
    )
    .await;
    assert_eq!(header(&response, "x-sort"), "DESC");

    // last page: X-Result-Count < X-Limit and X-Search_after still present
    let (all, _) = page_all(
        &sim,
        json!({"service": ["all"], "start_time": since, "limit": 1000}),
        None,
    )
    .await;
    assert_eq!(all.len(), 2_500);
    let mut body = json!({"service": ["all"], "start_time": since, "limit": 2_000});
    let first = post_events(&sim, &body, None).await;
    body["search_after"] = serde_json::from_str(&header(&first, "x-search_after")).unwrap();
    let last = post_events(&sim, &body, None).await;
    assert_eq!(header(&last, "x-result-count"), "500");
    assert!(!header(&last, "x-search_after").is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn time_window_is_start_inclusive_end_exclusive() {
    let sim = start(config(3_000)).await;
    let truth = ground_truth(&sim, None).await;
    let mut stamps: Vec<String> = truth
        .iter()
        .map(|e| e["timestamp"].as_str().unwrap().to_owned())
        .collect();
    stamps.sort_by_key(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap());
    let start = &stamps[100];
    let end = &stamps[2_000];
    let ns = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .unwrap()
            .timestamp_nanos_opt()
            .unwrap()
    };
    let expected: HashSet<String> = truth
        .iter()
        .filter(|e| {
            let t = ns(e["timestamp"].as_str().unwrap());
            t >= ns(start) && t < ns(end)
        })
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let (got, _) = page_all(
        &sim,
        json!({"service": ["all"], "start_time": start, "end_time": end, "limit": 500}),
        None,
    )
    .await;
    assert_eq!(unique(&ids(&got)), expected);
    let count = client()
        .post(format!("{}/count", events_url(&sim)))
        .header("x-api-key", KEY)
        .json(&json!({"service": ["all"], "start_time": start, "end_time": end}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        count.json::<Value>().await.unwrap(),
        json!({"count": expected.len()})
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_requests_get_the_real_messages() {
    let sim = start(config(100)).await;
    let cases = [
        (
            json!({"service": ["all"], "start_time": "2026-01-26T09:13:52Z", "end_time": "2026-01-26T09:11:52Z"}),
            "Start Time not after End Time 2026-01-26T09:13:52Z > 2026-01-26T09:11:52Z",
        ),
        (
            json!({"service": ["all"], "start_time": "2999-01-01T00:00:00Z"}),
            "Start Time cannot be in the future 2999-01-01T00:00:00Z",
        ),
        (
            json!({"start_time": "2026-01-01T00:00:00Z"}),
            "service is required",
        ),
        (json!({"service": ["all"]}), "start_time is required"),
        (
            json!({"service": ["nope"], "start_time": "2026-01-01T00:00:00Z"}),
            "invalid service \"nope\": must be one of [all, directory, sso, radius",
        ),
        (
            json!({"service": ["all"], "start_time": "yesterday"}),
            "invalid start_time",
        ),
        (
            json!({"service": ["all"], "start_time": "2026-01-01T00:00:00Z", "fields": []}),
            "fields must not be empty",
        ),
        (
            json!({"service": ["all"], "start_time": "2026-01-01T00:00:00Z", "fields": ["bogus"]}),
            "fields: no valid field",
        ),
        (
            json!({"service": ["all"], "start_time": "2026-01-01T00:00:00Z", "search_after": ["x"]}),
            "invalid search_after",
        ),
    ];
    for (body, message) in cases {
        let response = post_events(&sim, &body, None).await;
        assert_eq!(response.status(), 400, "{body}");
        let got: Value = response.json().await.unwrap();
        let text = got["message"].as_str().unwrap();
        assert!(
            text.starts_with(message),
            "{text:?} should start with {message:?}"
        );
    }
    let response = client()
        .post(events_url(&sim))
        .header("x-api-key", KEY)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn auth_errors_402_org_beside_healthy_ones_and_403_key() {
    let sim = start(SimConfig {
        orgs: 3,
        di_disabled_orgs: 1,
        no_di_api_key: Some("no-di".into()),
        ..config(3_000)
    })
    .await;
    let orgs = sim.org_ids();
    assert_eq!(orgs.len(), 3);
    assert!(
        orgs.iter()
            .all(|o| o.len() == 24 && o.chars().all(|c| c.is_ascii_hexdigit()))
    );
    let body = query(&["all"], &since_days(8));

    let bad = client()
        .post(events_url(&sim))
        .header("x-api-key", "wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    assert!(
        bad.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("Unauthorized")
    );
    let none = client()
        .post(events_url(&sim))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), 401);

    let disabled = post_events(&sim, &body, Some(&orgs[2])).await;
    assert_eq!(disabled.status(), 402);
    assert_eq!(
        disabled.json::<Value>().await.unwrap(),
        json!({"message": "Directory Insights is not enabled for your organization"})
    );

    let no_di = client()
        .post(events_url(&sim))
        .header("x-api-key", "no-di")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(no_di.status(), 403);
    let unknown = post_events(&sim, &body, Some("ffffffffffffffffffffffff")).await;
    assert_eq!(unknown.status(), 403);
    assert!(
        unknown.json::<Value>().await.unwrap()["message"]
            .as_str()
            .unwrap()
            .contains("ffffffffffffffffffffffff")
    );

    // healthy orgs keep serving, each its own data; no header = org 0
    let mut per_org = Vec::new();
    for org in &orgs[..2] {
        let (events, _) = page_all(&sim, body.clone(), Some(org)).await;
        assert!(events.iter().all(|e| e["organization"] == json!(org)));
        assert_eq!(events.len(), ground_truth(&sim, Some(org)).await.len());
        per_org.push(events.len());
    }
    let (home, _) = page_all(&sim, body.clone(), None).await;
    assert_eq!(home.len(), per_org[0]);
    assert!(home.iter().all(|e| e["organization"] == json!(orgs[0])));

    // several x-org-id headers query several orgs at once
    let mut all = Vec::new();
    let mut request_body = body.clone();
    loop {
        let response = client()
            .post(events_url(&sim))
            .header("x-api-key", KEY)
            .header("x-org-id", &orgs[0])
            .header("x-org-id", &orgs[1])
            .json(&request_body)
            .send()
            .await
            .unwrap();
        let count: usize = header(&response, "x-result-count").parse().unwrap();
        request_body["search_after"] =
            serde_json::from_str(&header(&response, "x-search_after")).unwrap();
        all.extend(response.json::<Vec<Value>>().await.unwrap());
        if count < 1000 {
            break;
        }
    }
    assert_eq!(unique(&ids(&all)).len(), per_org[0] + per_org[1]);

    let listed: Value = get_json(&sim, "/__sim/orgs").await;
    assert_eq!(
        listed[2],
        json!({"id": orgs[2], "directory_insights": false, "listed": true})
    );
    assert_eq!(listed[0]["directory_insights"], json!(true));
    sim.shutdown().await;
}

#[tokio::test]
async fn search_term_fields_distinct_and_interval() {
    let sim = start(config(4_000)).await;
    let truth = ground_truth(&sim, None).await;
    let since = since_days(8);
    let base = |extra: Value| {
        let mut body = json!({"service": ["all"], "start_time": since, "limit": 10_000});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let user = truth
        .iter()
        .find(|e| e["event_type"] == "sso_auth")
        .unwrap()["initiated_by"]["username"]
        .as_str()
        .unwrap()
        .to_owned();
    let term = json!({"and": [{"event_type": "sso_auth"}, {"initiated_by.username": user.to_uppercase()}]});
    let got: Vec<Value> = post_events(&sim, &base(json!({"search_term": term})), None)
        .await
        .json()
        .await
        .unwrap();
    let expected = truth
        .iter()
        .filter(|e| e["event_type"] == "sso_auth" && e["initiated_by"]["username"] == json!(user))
        .count();
    assert_eq!(got.len(), expected);
    assert!(expected > 0);

    let term = json!({"or": [{"event_type": ["ldap_bind", "ldap_search"]}, {"success": "false"}]});
    let got: Vec<Value> = post_events(&sim, &base(json!({"search_term": term})), None)
        .await
        .json()
        .await
        .unwrap();
    let expected = truth
        .iter()
        .filter(|e| {
            e["event_type"] == "ldap_bind"
                || e["event_type"] == "ldap_search"
                || e["success"] == json!(false)
        })
        .count();
    assert_eq!(got.len(), expected);

    let got: Vec<Value> = post_events(
        &sim,
        &base(json!({"fields": ["id", "outer.eap_type"], "limit": 5})),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    for event in &got {
        let keys: Vec<&String> = event.as_object().unwrap().keys().collect();
        assert!(keys.iter().all(|k| *k == "id" || *k == "outer"), "{keys:?}");
    }

    let distinct: Value = client()
        .post(format!("{}/distinct", events_url(&sim)))
        .header("x-api-key", KEY)
        .json(&base(json!({"field": "event_type"})))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let buckets = distinct["buckets"].as_array().unwrap();
    let sum: u64 = buckets
        .iter()
        .map(|b| b["doc_count"].as_u64().unwrap())
        .sum();
    assert_eq!(sum as usize, truth.len());
    let sso = truth
        .iter()
        .filter(|e| e["event_type"] == "sso_auth")
        .count() as u64;
    assert!(
        buckets
            .iter()
            .any(|b| b["key"] == "sso_auth" && b["doc_count"] == json!(sso))
    );

    let interval: Value = client()
        .post(format!("{}/interval", events_url(&sim)))
        .header("x-api-key", KEY)
        .json(&base(
            json!({"interval_unit": "d", "interval_value": "1", "timezone": "-0500"}),
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sum: u64 = interval["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["doc_count"].as_u64().unwrap())
        .sum();
    assert_eq!(sum as usize, truth.len());
    let missing = client()
        .post(format!("{}/interval", events_url(&sim)))
        .header("x-api-key", KEY)
        .json(&base(json!({})))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 400);
    sim.shutdown().await;
}

#[tokio::test]
async fn generated_data_is_deterministic_by_seed_and_shaped_like_the_samples() {
    let anchor = Some(chrono::Utc::now().timestamp_nanos_opt().unwrap() - 60_000_000_000);
    let a = start(SimConfig {
        history_anchor_ns: anchor,
        ..config(1_500)
    })
    .await;
    let b = start(SimConfig {
        history_anchor_ns: anchor,
        ..config(1_500)
    })
    .await;
    let c = start(SimConfig {
        seed: 7,
        history_anchor_ns: anchor,
        ..config(1_500)
    })
    .await;
    let ta = ground_truth(&a, None).await;
    let tb = ground_truth(&b, None).await;
    let tc = ground_truth(&c, None).await;
    let set = |t: &[Value]| ids(t).into_iter().collect::<HashSet<_>>();
    assert!(ta == tb, "same seed, same events (byte for byte)");
    assert!(set(&ta) != set(&tc), "another seed, other events");
    assert_eq!(a.org_ids(), b.org_ids());
    let auth = ta
        .iter()
        .filter(|e| {
            [
                "sso_auth",
                "user_login_attempt",
                "login_attempt",
                "radius_auth_attempt",
                "ldap_bind",
                "admin_login_attempt",
            ]
            .contains(&e["event_type"].as_str().unwrap())
        })
        .count();
    assert!(
        auth * 10 > ta.len() * 6,
        "mostly authentication events: {auth}/{}",
        ta.len()
    );
    for event in &ta {
        assert_eq!(event["@version"], "1");
        if event["service"] == "radius" {
            assert_eq!(event["event_type"], "radius_auth_attempt");
        }
        if event["event_type"] == "sso_auth" {
            assert!(event.get("success").is_none());
        }
    }
    let precisions: HashSet<usize> = ta
        .iter()
        .map(|e| {
            e["timestamp"]
                .as_str()
                .unwrap()
                .split('.')
                .nth(1)
                .map_or(0, |f| f.len() - 1)
        })
        .collect();
    assert!(
        precisions.contains(&0) && precisions.contains(&3) && precisions.iter().any(|p| *p > 6),
        "{precisions:?}"
    );
    for sim in [a, b, c] {
        sim.shutdown().await;
    }
}
