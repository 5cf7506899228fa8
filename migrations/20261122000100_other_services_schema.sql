-- Tables and views owned by roundtable and comlink that live in the same database
-- (ingest.md §6.2). Where the spec names a column without a type, the choice is listed in
-- migrations/README.md.

-- One row per subaccount x perpetual x funding tick (roundtable update-funding-payments).
CREATE TABLE funding_payments (
    "subaccountId" uuid NOT NULL REFERENCES subaccounts (id),
    "createdAt" timestamptz NOT NULL,
    "createdAtHeight" bigint NOT NULL,
    "perpetualId" bigint NOT NULL REFERENCES perpetual_markets (id),
    ticker varchar(255) NOT NULL,
    "oraclePrice" numeric NOT NULL,
    size numeric NOT NULL,
    side text NOT NULL CHECK (side IN ('LONG', 'SHORT')),
    rate numeric NOT NULL,
    payment numeric NOT NULL,
    "fundingIndex" numeric NOT NULL,
    PRIMARY KEY ("subaccountId", "createdAt", ticker)
);
CREATE INDEX funding_payments_createdatheight_index ON funding_payments ("createdAtHeight");

-- Hourly equity snapshots per subaccount (roundtable create_pnl_ticks).
CREATE TABLE pnl_ticks (
    id uuid PRIMARY KEY,
    "subaccountId" uuid NOT NULL REFERENCES subaccounts (id),
    equity numeric NOT NULL,
    "totalPnl" numeric NOT NULL,
    "netTransfers" numeric NOT NULL,
    "createdAt" timestamptz NOT NULL,
    "blockHeight" bigint NOT NULL REFERENCES blocks ("blockHeight"),
    "blockTime" timestamptz NOT NULL
);
CREATE INDEX pnl_ticks_subaccountid_createdat_index ON pnl_ticks ("subaccountId", "createdAt");
CREATE INDEX pnl_ticks_subaccountid_blockheight_index
    ON pnl_ticks ("subaccountId", "blockHeight" DESC);
CREATE INDEX pnl_ticks_createdat_index ON pnl_ticks ("createdAt");
CREATE INDEX pnl_ticks_blocktime_index ON pnl_ticks ("blockTime");

-- PnL per subaccount per funding height (roundtable update-pnl).
CREATE TABLE pnl (
    "subaccountId" uuid NOT NULL REFERENCES subaccounts (id),
    "createdAt" timestamptz NOT NULL,
    "createdAtHeight" bigint NOT NULL,
    equity numeric NOT NULL,
    "netTransfers" numeric NOT NULL,
    "totalPnl" numeric NOT NULL,
    PRIMARY KEY ("subaccountId", "createdAt")
);
CREATE INDEX pnl_createdatheight_index ON pnl ("createdAtHeight");

-- endedAt / endedAtHeight stay null while the period is open.
CREATE TABLE trading_reward_aggregations (
    id uuid PRIMARY KEY,
    address varchar(255) NOT NULL REFERENCES wallets (address),
    "startedAt" timestamptz NOT NULL,
    "startedAtHeight" bigint NOT NULL REFERENCES blocks ("blockHeight"),
    "endedAt" timestamptz,
    "endedAtHeight" bigint REFERENCES blocks ("blockHeight"),
    period text NOT NULL CHECK (period IN ('DAILY', 'WEEKLY', 'MONTHLY')),
    amount numeric(27, 18) NOT NULL
);
CREATE INDEX trading_reward_aggregations_address_startedatheight_index
    ON trading_reward_aggregations (address, "startedAtHeight");
CREATE INDEX trading_reward_aggregations_period_startedatheight_index
    ON trading_reward_aggregations (period, "startedAtHeight");

CREATE TABLE affiliate_info (
    address varchar(255) PRIMARY KEY,
    "affiliateEarnings" numeric NOT NULL DEFAULT 0,
    "referredMakerTrades" integer NOT NULL DEFAULT 0,
    "referredTakerTrades" integer NOT NULL DEFAULT 0,
    "totalReferredUsers" integer NOT NULL DEFAULT 0,
    "firstReferralBlockHeight" bigint NOT NULL,
    "referredTotalVolume" numeric NOT NULL DEFAULT 0,
    "totalReferredTakerFees" numeric NOT NULL DEFAULT 0,
    "totalReferredMakerFees" numeric NOT NULL DEFAULT 0,
    "totalReferredMakerRebates" numeric NOT NULL DEFAULT 0
);

CREATE TABLE leaderboard_pnl (
    address varchar(255) NOT NULL REFERENCES wallets (address),
    "timeSpan" text NOT NULL CHECK ("timeSpan" IN (
        'ONE_DAY', 'SEVEN_DAYS', 'THIRTY_DAYS', 'ONE_YEAR', 'ALL_TIME')),
    pnl numeric NOT NULL,
    "currentEquity" numeric NOT NULL,
    rank integer NOT NULL,
    PRIMARY KEY (address, "timeSpan")
);
CREATE INDEX leaderboard_pnl_timespan_rank_index ON leaderboard_pnl ("timeSpan", rank);

-- One username per subaccount (the affiliate referral code is the username of subaccount 0).
CREATE TABLE subaccount_usernames (
    username varchar(255) PRIMARY KEY,
    "subaccountId" uuid NOT NULL REFERENCES subaccounts (id),
    CONSTRAINT subaccount_usernames_subaccountid_unique UNIQUE ("subaccountId")
);

-- Watermarks of roundtable tasks (e.g. totalVolumeUpdateTime, fundingPaymentsLastProcessedHeight).
CREATE TABLE persistent_cache (
    key varchar(255) PRIMARY KEY,
    value text NOT NULL
);

CREATE TABLE compliance_data (
    address varchar(255) NOT NULL,
    provider text NOT NULL CHECK (provider IN ('ELLIPTIC')),
    chain varchar(255),
    blocked boolean NOT NULL,
    "riskScore" numeric,
    "updatedAt" timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (address, provider)
);
CREATE INDEX compliance_data_updatedat_index ON compliance_data ("updatedAt");
CREATE INDEX compliance_data_address_index ON compliance_data (address);

-- reason is null for COMPLIANT addresses.
CREATE TABLE compliance_status (
    address varchar(255) PRIMARY KEY,
    status text NOT NULL CHECK (status IN (
        'COMPLIANT', 'FIRST_STRIKE_CLOSE_ONLY', 'FIRST_STRIKE', 'CLOSE_ONLY', 'BLOCKED')),
    reason text CHECK (reason IN (
        'MANUAL', 'US_GEO', 'CA_GEO', 'GB_GEO', 'SANCTIONED_GEO', 'COMPLIANCE_PROVIDER')),
    "createdAt" timestamptz NOT NULL DEFAULT now(),
    "updatedAt" timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX compliance_status_status_index ON compliance_status (status);
CREATE INDEX compliance_status_updatedat_index ON compliance_status ("updatedAt");

CREATE TABLE firebase_notification_tokens (
    id serial PRIMARY KEY,
    token varchar(255) NOT NULL,
    address varchar(255) NOT NULL REFERENCES wallets (address) ON DELETE CASCADE,
    language varchar(255) NOT NULL,
    "updatedAt" timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT firebase_notification_tokens_token_unique UNIQUE (token)
);
CREATE INDEX firebase_notification_tokens_address_index ON firebase_notification_tokens (address);

-- Onboarding features served by comlink; not part of ingest. Snake-case columns as in the
-- reference.
CREATE TABLE turnkey_users (
    suborg_id text PRIMARY KEY,
    email text,
    svm_address text NOT NULL,
    evm_address text NOT NULL,
    salt text NOT NULL,
    dydx_address text,
    created_at timestamptz NOT NULL,
    smart_account_address text,
    CONSTRAINT turnkey_users_email_unique UNIQUE (email),
    CONSTRAINT turnkey_users_svm_address_unique UNIQUE (svm_address),
    CONSTRAINT turnkey_users_evm_address_unique UNIQUE (evm_address),
    CONSTRAINT turnkey_users_dydx_address_unique UNIQUE (dydx_address),
    CONSTRAINT turnkey_users_smart_account_address_unique UNIQUE (smart_account_address)
);

CREATE TABLE permission_approval (
    suborg_id text NOT NULL,
    chain_id text NOT NULL,
    approval text NOT NULL,
    PRIMARY KEY (suborg_id, chain_id)
);

CREATE TABLE bridge_information (
    id varchar(255) PRIMARY KEY,
    from_address varchar(255) NOT NULL,
    chain_id varchar(255) NOT NULL,
    amount varchar(255) NOT NULL,
    transaction_hash varchar(255),
    created_at timestamptz NOT NULL,
    CONSTRAINT bridge_information_transaction_hash_unique UNIQUE (transaction_hash)
);
CREATE INDEX bridge_information_from_address_index ON bridge_information (from_address);

-- Vault PnL history: the first pnl tick per hour (last 7 days) or per UTC day (last 90 days) of
-- every vault subaccount (vault address, subaccount 0) and of the megavault subaccount
-- (dydx18tkxrnrkqc2t0lr3zxr5g6a4hdvqksylxqje4r/0 = c7169f81-0c80-54c5-a41f-9cbb6a538fdf).
-- Roundtable refreshes them CONCURRENTLY, which needs the unique index on id.
CREATE MATERIALIZED VIEW vaults_hourly_pnl AS
WITH pnl_subaccounts AS (
    SELECT s.id
    FROM vaults v
    JOIN subaccounts s ON s.address = v.address AND s."subaccountNumber" = 0
    UNION
    SELECT 'c7169f81-0c80-54c5-a41f-9cbb6a538fdf'::uuid
)
SELECT DISTINCT ON (t."subaccountId", date_trunc('hour', t."createdAt" AT TIME ZONE 'UTC'))
    t.id, t."subaccountId", t.equity, t."totalPnl", t."netTransfers", t."createdAt",
    t."blockHeight", t."blockTime"
FROM pnl_ticks t
JOIN pnl_subaccounts p ON p.id = t."subaccountId"
WHERE t."createdAt" >= now() - interval '7 days'
ORDER BY t."subaccountId", date_trunc('hour', t."createdAt" AT TIME ZONE 'UTC'), t."createdAt", t.id
WITH DATA;
CREATE UNIQUE INDEX vaults_hourly_pnl_id_idx ON vaults_hourly_pnl (id);
CREATE INDEX vaults_hourly_pnl_subaccountid_createdat_idx
    ON vaults_hourly_pnl ("subaccountId", "createdAt");

CREATE MATERIALIZED VIEW vaults_daily_pnl AS
WITH pnl_subaccounts AS (
    SELECT s.id
    FROM vaults v
    JOIN subaccounts s ON s.address = v.address AND s."subaccountNumber" = 0
    UNION
    SELECT 'c7169f81-0c80-54c5-a41f-9cbb6a538fdf'::uuid
)
SELECT DISTINCT ON (t."subaccountId", date_trunc('day', t."createdAt" AT TIME ZONE 'UTC'))
    t.id, t."subaccountId", t.equity, t."totalPnl", t."netTransfers", t."createdAt",
    t."blockHeight", t."blockTime"
FROM pnl_ticks t
JOIN pnl_subaccounts p ON p.id = t."subaccountId"
WHERE t."createdAt" >= now() - interval '90 days'
ORDER BY t."subaccountId", date_trunc('day', t."createdAt" AT TIME ZONE 'UTC'), t."createdAt", t.id
WITH DATA;
CREATE UNIQUE INDEX vaults_daily_pnl_id_idx ON vaults_daily_pnl (id);
CREATE INDEX vaults_daily_pnl_subaccountid_createdat_idx
    ON vaults_daily_pnl ("subaccountId", "createdAt");
