//! Migrating an empty database yields exactly the schema of tests/fixtures/expected_schema.txt
//! (written from the specification): relations, columns (type, nullability, default), primary
//! keys, unique constraints, foreign keys, CHECK value lists and indexes.

use std::collections::{BTreeMap, BTreeSet};

use indexer_testkit::db::TestDb;
use sqlx::{Connection, PgConnection};

const FIXTURE: &str = include_str!("fixtures/expected_schema.txt");

/// One table or materialized view, described in the fixture's vocabulary.
#[derive(Debug, Default, PartialEq)]
struct Relation {
    kind: String,
    /// column -> "type null|not null [default expr]"
    columns: BTreeMap<String, String>,
    /// "pk (a, b)", "unique (a)", "fk (a) -> t (b)", "check name"
    constraints: BTreeSet<String>,
    /// column -> sorted allowed values
    enums: BTreeMap<String, Vec<String>>,
    /// index name -> normalised definition
    indexes: BTreeMap<String, String>,
}

type Schema = BTreeMap<String, Relation>;

/// table, name, kind, columns, definition, referenced table, referenced columns, on-delete action
type ConstraintRow = (
    String,
    String,
    String,
    Vec<String>,
    String,
    Option<String>,
    Option<Vec<String>>,
    String,
);

#[tokio::test]
async fn migrating_an_empty_database_yields_the_specified_schema() {
    let db = TestDb::empty().await;
    indexer_store::migrate(db.pool())
        .await
        .expect("migrations apply to an empty database");

    let expected = parse_fixture(FIXTURE);
    let actual = introspect(db.url()).await;
    let differences = diff(&expected, &actual);
    assert!(
        differences.is_empty(),
        "{} difference(s) between the fixture and the migrated database:\n{}",
        differences.len(),
        differences.join("\n")
    );
    db.cleanup().await;
}

#[test]
fn the_fixture_describes_every_specified_table() {
    let schema = parse_fixture(FIXTURE);
    let ingest = [
        "blocks",
        "transactions",
        "tendermint_events",
        "subaccounts",
        "wallets",
        "assets",
        "asset_positions",
        "markets",
        "oracle_prices",
        "liquidity_tiers",
        "perpetual_markets",
        "orders",
        "fills",
        "perpetual_positions",
        "transfers",
        "funding_index_updates",
        "candles",
        "trading_rewards",
        "affiliate_referred_users",
        "vaults",
    ];
    let other_services = [
        "funding_payments",
        "pnl_ticks",
        "pnl",
        "trading_reward_aggregations",
        "affiliate_info",
        "leaderboard_pnl",
        "subaccount_usernames",
        "persistent_cache",
        "compliance_data",
        "compliance_status",
        "firebase_notification_tokens",
        "turnkey_users",
        "permission_approval",
        "bridge_information",
    ];
    let ours = ["ender_progress", "ender_outbox", "channel_sequences"];
    for table in ingest.iter().chain(&other_services).chain(&ours) {
        assert_eq!(
            schema.get(*table).map(|r| r.kind.as_str()),
            Some("table"),
            "{table}"
        );
    }
    for view in ["vaults_hourly_pnl", "vaults_daily_pnl"] {
        assert_eq!(
            schema.get(view).map(|r| r.kind.as_str()),
            Some("view"),
            "{view}"
        );
    }
    assert_eq!(
        schema.len(),
        ingest.len() + other_services.len() + ours.len() + 2
    );
}

fn parse_fixture(text: &str) -> Schema {
    let mut schema = Schema::new();
    let mut current: Option<String> = None;
    for (number, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (keyword, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim();
        if !raw.starts_with(' ') {
            assert!(
                matches!(keyword, "table" | "view"),
                "line {}: {raw}",
                number + 1
            );
            schema.insert(
                rest.to_string(),
                Relation {
                    kind: keyword.to_string(),
                    ..Default::default()
                },
            );
            current = Some(rest.to_string());
            continue;
        }
        let relation = schema
            .get_mut(current.as_deref().expect("a table line comes first"))
            .expect("current relation exists");
        match keyword {
            "pk" | "unique" | "fk" | "check" => {
                relation.constraints.insert(format!("{keyword} {rest}"));
            }
            "enum" => {
                let mut words = rest.split_whitespace();
                let column = words.next().expect("enum column").to_string();
                let mut values: Vec<String> = words.map(str::to_string).collect();
                values.sort();
                relation.enums.insert(column, values);
            }
            "index" => {
                let (name, definition) = rest.split_once(' ').expect("index name and definition");
                relation
                    .indexes
                    .insert(name.to_string(), definition.trim().to_string());
            }
            column => {
                relation
                    .columns
                    .insert(column.to_string(), normalise_spaces(rest));
            }
        }
    }
    schema
}

async fn introspect(url: &str) -> Schema {
    let mut conn = PgConnection::connect(url).await.unwrap();
    // Index predicates print timestamptz constants in the session time zone.
    sqlx::query("SET TIME ZONE 'UTC'")
        .execute(&mut conn)
        .await
        .unwrap();

    let mut schema = Schema::new();
    let relations: Vec<(String, String)> = sqlx::query_as(
        "SELECT c.relname::text, c.relkind::text FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'm') AND c.relname <> '_sqlx_migrations'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for (name, kind) in relations {
        let kind = if kind == "m" { "view" } else { "table" };
        schema.insert(
            name,
            Relation {
                kind: kind.to_string(),
                ..Default::default()
            },
        );
    }

    let columns: Vec<(String, String, String, bool, Option<String>)> = sqlx::query_as(
        "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), \
                a.attnotnull, pg_get_expr(d.adbin, d.adrelid) \
         FROM pg_attribute a \
         JOIN pg_class c ON c.oid = a.attrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'm') AND a.attnum > 0 \
           AND NOT a.attisdropped",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for (table, column, data_type, not_null, default) in columns {
        let Some(relation) = schema.get_mut(&table) else {
            continue;
        };
        let mut description = format!(
            "{} {}",
            short_type_names(&data_type),
            if not_null { "not null" } else { "null" }
        );
        if let Some(default) = default {
            description.push_str(&format!(" default {}", short_type_names(&default)));
        }
        relation.columns.insert(column, description);
    }

    let constraints: Vec<ConstraintRow> = sqlx::query_as(
        "SELECT c.relname::text, con.conname::text, con.contype::text, \
                    (SELECT array_agg(a.attname::text ORDER BY k.ord) \
                       FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord) \
                       JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum), \
                    pg_get_constraintdef(con.oid), \
                    fc.relname::text, \
                    (SELECT array_agg(a.attname::text ORDER BY k.ord) \
                       FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord) \
                       JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum), \
                    con.confdeltype::text \
             FROM pg_constraint con \
             JOIN pg_class c ON c.oid = con.conrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             LEFT JOIN pg_class fc ON fc.oid = con.confrelid \
             WHERE n.nspname = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for (table, name, kind, columns, definition, ref_table, ref_columns, on_delete) in constraints {
        let Some(relation) = schema.get_mut(&table) else {
            continue;
        };
        let column_list = columns.join(", ");
        match kind.as_str() {
            "p" => {
                relation.constraints.insert(format!("pk ({column_list})"));
            }
            "u" => {
                relation
                    .constraints
                    .insert(format!("unique ({column_list})"));
            }
            "f" => {
                let cascade = if on_delete == "c" {
                    " on delete cascade"
                } else {
                    ""
                };
                relation.constraints.insert(format!(
                    "fk ({column_list}) -> {} ({}){cascade}",
                    ref_table.unwrap_or_default(),
                    ref_columns.unwrap_or_default().join(", ")
                ));
            }
            "c" => {
                let mut values = quoted_literals(&definition);
                if columns.len() == 1 && !values.is_empty() {
                    values.sort();
                    relation.enums.insert(columns[0].clone(), values);
                } else {
                    relation.constraints.insert(format!("check {name}"));
                }
            }
            other => {
                relation.constraints.insert(format!("{other} {name}"));
            }
        }
    }

    let indexes: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT c.relname::text, i.relname::text, pg_get_indexdef(ix.indexrelid) \
         FROM pg_index ix \
         JOIN pg_class i ON i.oid = ix.indexrelid \
         JOIN pg_class c ON c.oid = ix.indrelid \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND NOT EXISTS ( \
             SELECT 1 FROM pg_constraint con \
             WHERE con.conindid = ix.indexrelid AND con.conrelid = ix.indrelid \
               AND con.contype IN ('p', 'u', 'x'))",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for (table, name, definition) in indexes {
        let Some(relation) = schema.get_mut(&table) else {
            continue;
        };
        relation
            .indexes
            .insert(name, normalise_index_definition(&definition));
    }
    let _ = conn.close().await;
    schema
}

fn diff(expected: &Schema, actual: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    for (name, want) in expected {
        let Some(have) = actual.get(name) else {
            out.push(format!("missing {} {name}", want.kind));
            continue;
        };
        if want.kind != have.kind {
            out.push(format!(
                "{name}: expected a {}, found a {}",
                want.kind, have.kind
            ));
        }
        diff_maps(&mut out, name, "column", &want.columns, &have.columns);
        diff_maps(&mut out, name, "enum", &want.enums, &have.enums);
        diff_maps(&mut out, name, "index", &want.indexes, &have.indexes);
        for missing in want.constraints.difference(&have.constraints) {
            out.push(format!("{name}: missing constraint `{missing}`"));
        }
        for extra in have.constraints.difference(&want.constraints) {
            out.push(format!("{name}: unexpected constraint `{extra}`"));
        }
    }
    for (name, have) in actual {
        if !expected.contains_key(name) {
            out.push(format!("unexpected {} {name}", have.kind));
        }
    }
    out
}

fn diff_maps<V: PartialEq + std::fmt::Debug>(
    out: &mut Vec<String>,
    relation: &str,
    what: &str,
    want: &BTreeMap<String, V>,
    have: &BTreeMap<String, V>,
) {
    for (key, want_value) in want {
        match have.get(key) {
            None => out.push(format!("{relation}: missing {what} {key} ({want_value:?})")),
            Some(have_value) if have_value != want_value => out.push(format!(
                "{relation}: {what} {key}: expected {want_value:?}, found {have_value:?}"
            )),
            Some(_) => {}
        }
    }
    for (key, have_value) in have {
        if !want.contains_key(key) {
            out.push(format!(
                "{relation}: unexpected {what} {key} ({have_value:?})"
            ));
        }
    }
}

/// `CREATE [UNIQUE] INDEX name ON public.t USING btree ("a", b DESC) WHERE ...` ->
/// `[unique ](a, b DESC) WHERE ...` with the WHERE/INCLUDE keywords lower-cased.
fn normalise_index_definition(definition: &str) -> String {
    let unique = definition.starts_with("CREATE UNIQUE INDEX");
    let body = definition
        .split_once(" USING btree ")
        .map_or(definition, |(_, rest)| rest)
        .replace('"', "")
        .replace(" INCLUDE (", " include (")
        .replace(" WHERE ", " where ");
    if unique {
        format!("unique {body}")
    } else {
        body
    }
}

fn short_type_names(text: &str) -> String {
    text.replace("character varying", "varchar")
        .replace("timestamp with time zone", "timestamptz")
}

fn normalise_spaces(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The '...' literals of a CHECK definition, e.g. the values of `x = ANY (ARRAY['A'::text, ...])`.
fn quoted_literals(definition: &str) -> Vec<String> {
    definition
        .split('\'')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}
