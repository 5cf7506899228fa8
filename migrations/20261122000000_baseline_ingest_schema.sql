-- Baseline: the final schema of the tables written by ender and vulcan (ingest.md §6.1), equal to
-- the reference database after its migration 20260302120000_add_created_at_to_orders.
-- Identifiers are camelCase and quoted; enumerations are text columns with a CHECK listing the
-- allowed values; decimals are exact numeric; some decimals are varchar(255) decimal strings.
-- Unnamed indexes follow the reference naming style <table>_<columns lower-cased>_index.

CREATE TABLE blocks (
    "blockHeight" bigint PRIMARY KEY,
    "time" timestamptz NOT NULL
);
CREATE INDEX blocks_time_since_march2025_idx ON blocks ("time")
    WHERE "time" >= '2025-03-01 00:00:00+00';

CREATE TABLE transactions (
    id uuid PRIMARY KEY,
    "blockHeight" bigint NOT NULL,
    "transactionIndex" integer NOT NULL,
    "transactionHash" varchar(255) NOT NULL
);
CREATE INDEX transactions_blockheight_transactionindex_index
    ON transactions ("blockHeight", "transactionIndex");

-- transactionIndex is -1 for END_BLOCK events and -2 for BEGIN_BLOCK events.
CREATE TABLE tendermint_events (
    id bytea PRIMARY KEY,
    "blockHeight" bigint NOT NULL REFERENCES blocks ("blockHeight"),
    "transactionIndex" integer NOT NULL,
    "eventIndex" integer NOT NULL
);
CREATE INDEX tendermint_events_blockheight_transactionindex_index
    ON tendermint_events ("blockHeight", "transactionIndex");

CREATE TABLE subaccounts (
    id uuid PRIMARY KEY,
    address varchar(255) NOT NULL,
    "subaccountNumber" integer NOT NULL,
    "updatedAt" timestamptz NOT NULL,
    "updatedAtHeight" bigint NOT NULL
);
CREATE INDEX subaccounts_address_subaccountnumber_index
    ON subaccounts (address, "subaccountNumber") INCLUDE (id);
CREATE INDEX subaccounts_updatedat_index ON subaccounts ("updatedAt");

-- totalVolume is maintained by roundtable (update_wallet_total_volume).
CREATE TABLE wallets (
    address varchar(255) PRIMARY KEY,
    "totalTradingRewards" numeric(27, 18) NOT NULL,
    "totalVolume" numeric NOT NULL DEFAULT 0
);

CREATE TABLE markets (
    id integer PRIMARY KEY,
    pair varchar(255) NOT NULL,
    exponent integer NOT NULL,
    "minPriceChangePpm" integer NOT NULL,
    "oraclePrice" numeric,
    CONSTRAINT markets_pair_unique UNIQUE (pair)
);
CREATE INDEX markets_pair_index ON markets (pair);

CREATE TABLE assets (
    id varchar(255) PRIMARY KEY,
    "atomicResolution" integer NOT NULL,
    "hasMarket" boolean NOT NULL,
    "marketId" integer REFERENCES markets (id),
    symbol varchar(255) NOT NULL,
    CONSTRAINT assets_symbol_unique UNIQUE (symbol)
);
CREATE INDEX assets_marketid_index ON assets ("marketId");
CREATE INDEX assets_symbol_index ON assets (symbol);

-- size is the absolute value; isLong carries the sign.
CREATE TABLE asset_positions (
    id uuid PRIMARY KEY,
    "assetId" varchar(255) NOT NULL REFERENCES assets (id),
    "subaccountId" uuid NOT NULL REFERENCES subaccounts (id),
    size numeric NOT NULL,
    "isLong" boolean NOT NULL
);
CREATE INDEX asset_positions_subaccountid_index ON asset_positions ("subaccountId");
CREATE INDEX asset_positions_subaccountid_assetid_index
    ON asset_positions ("subaccountId", "assetId");

CREATE TABLE oracle_prices (
    id uuid PRIMARY KEY,
    "marketId" integer NOT NULL REFERENCES markets (id),
    price numeric NOT NULL,
    "effectiveAt" timestamptz NOT NULL,
    "effectiveAtHeight" bigint NOT NULL REFERENCES blocks ("blockHeight")
);
CREATE INDEX oracle_prices_marketid_effectiveat_index
    ON oracle_prices ("marketId", "effectiveAt");
CREATE INDEX oracle_prices_marketid_effectiveatheight_index
    ON oracle_prices ("marketId", "effectiveAtHeight");
CREATE INDEX oracle_prices_marketid_effectiveatheight_desc_price_idx
    ON oracle_prices ("marketId", "effectiveAtHeight" DESC) INCLUDE (price);

-- The open-interest caps are decimal strings.
CREATE TABLE liquidity_tiers (
    id integer PRIMARY KEY,
    name varchar(255),
    "initialMarginPpm" bigint NOT NULL,
    "maintenanceFractionPpm" bigint NOT NULL,
    "openInterestLowerCap" varchar(255),
    "openInterestUpperCap" varchar(255)
);

CREATE TABLE perpetual_markets (
    id bigint PRIMARY KEY,
    "clobPairId" bigint NOT NULL,
    ticker varchar(255) NOT NULL,
    "marketId" integer NOT NULL REFERENCES markets (id),
    status text NOT NULL CHECK (status IN (
        'ACTIVE', 'PAUSED', 'CANCEL_ONLY', 'POST_ONLY', 'INITIALIZING', 'FINAL_SETTLEMENT')),
    "priceChange24H" numeric NOT NULL,
    "volume24H" numeric NOT NULL,
    "trades24H" integer NOT NULL,
    "nextFundingRate" numeric NOT NULL,
    "openInterest" numeric NOT NULL,
    "quantumConversionExponent" integer NOT NULL,
    "atomicResolution" integer NOT NULL,
    "subticksPerTick" integer NOT NULL,
    "stepBaseQuantums" integer NOT NULL,
    "liquidityTierId" integer NOT NULL DEFAULT 0 REFERENCES liquidity_tiers (id),
    "marketType" text NOT NULL DEFAULT 'CROSS' CHECK ("marketType" IN ('CROSS', 'ISOLATED')),
    "baseOpenInterest" numeric DEFAULT 0,
    "defaultFundingRate1H" numeric DEFAULT 0
);

-- One row per stateful order and per short-term order that ever filled. Only LIMIT, STOP_LIMIT,
-- TAKE_PROFIT and TWAP types are written; the other values are accepted for compatibility.
-- TWAP parameters and feePpm are decimal strings; orderRouterAddress is '' when there is none.
CREATE TABLE orders (
    id uuid PRIMARY KEY,
    "subaccountId" uuid NOT NULL REFERENCES subaccounts (id),
    "clientId" bigint NOT NULL,
    "clobPairId" bigint NOT NULL,
    side text NOT NULL CHECK (side IN ('BUY', 'SELL')),
    size numeric NOT NULL,
    "totalFilled" numeric NOT NULL,
    price numeric NOT NULL,
    type text NOT NULL CHECK (type IN (
        'LIMIT', 'MARKET', 'STOP_LIMIT', 'STOP_MARKET', 'TRAILING_STOP', 'TAKE_PROFIT',
        'TAKE_PROFIT_MARKET', 'LIQUIDATED', 'LIQUIDATION', 'HARD_TRADE', 'FAILED_HARD_TRADE',
        'TRANSFER_PLACEHOLDER', 'TWAP', 'TWAP_SUBORDER')),
    status text NOT NULL CHECK (status IN (
        'OPEN', 'FILLED', 'CANCELED', 'BEST_EFFORT_CANCELED', 'UNTRIGGERED')),
    "timeInForce" text NOT NULL CHECK ("timeInForce" IN ('GTT', 'FOK', 'IOC', 'POST_ONLY')),
    "reduceOnly" boolean NOT NULL,
    "orderFlags" bigint NOT NULL,
    "goodTilBlock" bigint,
    "goodTilBlockTime" timestamptz,
    "createdAtHeight" bigint,
    "clientMetadata" bigint NOT NULL,
    "triggerPrice" numeric,
    "updatedAt" timestamptz,
    "updatedAtHeight" bigint,
    duration varchar(255),
    "interval" varchar(255),
    "priceTolerance" varchar(255),
    "builderAddress" varchar(255),
    "feePpm" varchar(255),
    "orderRouterAddress" varchar(255),
    "createdAt" timestamptz,
    CONSTRAINT orders_good_til_block_xor_time_check
        CHECK (("goodTilBlock" IS NULL) <> ("goodTilBlockTime" IS NULL))
);
CREATE INDEX orders_subaccountid_index ON orders ("subaccountId");
CREATE INDEX orders_clobpairid_subaccountid_index ON orders ("clobPairId", "subaccountId");
CREATE INDEX orders_subaccountid_status_goodtilblock_goodtilblocktime_index
    ON orders ("subaccountId", status, "goodTilBlock" DESC, "goodTilBlockTime" DESC);
CREATE INDEX orders_open_shortterm_idx ON orders ("goodTilBlock")
    WHERE status = 'OPEN' AND "orderFlags" = 0 AND "goodTilBlock" IS NOT NULL;

-- Two rows per match. fee and the builder/router fees are decimal strings.
CREATE TABLE fills (
    id uuid PRIMARY KEY,
    "subaccountId" uuid NOT NULL REFERENCES subaccounts (id),
    side text NOT NULL CHECK (side IN ('BUY', 'SELL')),
    liquidity text NOT NULL CHECK (liquidity IN ('TAKER', 'MAKER')),
    type text NOT NULL CHECK (type IN (
        'LIMIT', 'LIQUIDATED', 'LIQUIDATION', 'DELEVERAGED', 'OFFSETTING', 'TWAP_SUBORDER')),
    "clobPairId" bigint NOT NULL,
    "orderId" uuid REFERENCES orders (id),
    size numeric NOT NULL,
    price numeric NOT NULL,
    "quoteAmount" numeric NOT NULL,
    "eventId" bytea NOT NULL REFERENCES tendermint_events (id),
    "transactionHash" varchar(255) NOT NULL,
    "createdAt" timestamptz NOT NULL,
    "createdAtHeight" bigint NOT NULL REFERENCES blocks ("blockHeight"),
    "clientMetadata" bigint,
    fee varchar(255) NOT NULL DEFAULT '0',
    "affiliateRevShare" numeric NOT NULL DEFAULT 0,
    "builderAddress" varchar(255),
    "builderFee" varchar(255),
    "orderRouterAddress" varchar(255),
    "orderRouterFee" varchar(255),
    "positionSizeBefore" numeric,
    "entryPriceBefore" numeric,
    "positionSideBefore" text CHECK ("positionSideBefore" IN ('LONG', 'SHORT'))
);
CREATE INDEX fills_subaccountid_clobpairid_index ON fills ("subaccountId", "clobPairId");
CREATE INDEX fills_subaccountid_createdatheight_index ON fills ("subaccountId", "createdAtHeight");
CREATE INDEX fills_createdat_index ON fills ("createdAt");
CREATE INDEX fills_createdatheight_index ON fills ("createdAtHeight");
CREATE INDEX fills_clobpairid_createdatheight_taker_index
    ON fills ("clobPairId", "createdAtHeight") WHERE liquidity = 'TAKER';
CREATE INDEX fills_clobpairid_createdatheight_createdat_taker_index
    ON fills ("clobPairId", "createdAtHeight", "createdAt") WHERE liquidity = 'TAKER';

-- One row per position lifetime; size and maxSize are signed. LIQUIDATED is never written.
CREATE TABLE perpetual_positions (
    id uuid PRIMARY KEY,
    "subaccountId" uuid NOT NULL REFERENCES subaccounts (id),
    "perpetualId" bigint NOT NULL REFERENCES perpetual_markets (id),
    side text NOT NULL CHECK (side IN ('LONG', 'SHORT')),
    status text NOT NULL CHECK (status IN ('OPEN', 'CLOSED', 'LIQUIDATED')),
    size numeric NOT NULL,
    "maxSize" numeric NOT NULL,
    "entryPrice" numeric NOT NULL,
    "exitPrice" numeric,
    "sumOpen" numeric NOT NULL,
    "sumClose" numeric NOT NULL,
    "createdAt" timestamptz NOT NULL,
    "closedAt" timestamptz,
    "createdAtHeight" bigint NOT NULL,
    "closedAtHeight" bigint,
    "openEventId" bytea NOT NULL REFERENCES tendermint_events (id),
    "closeEventId" bytea REFERENCES tendermint_events (id),
    "lastEventId" bytea NOT NULL REFERENCES tendermint_events (id),
    "settledFunding" numeric NOT NULL,
    "totalRealizedPnl" numeric
);
CREATE INDEX perpetual_positions_perpetualid_status_index
    ON perpetual_positions ("perpetualId", status);
CREATE INDEX perpetual_positions_subaccountid_perpetualid_openeventid_index
    ON perpetual_positions ("subaccountId", "perpetualId", "openEventId" DESC);
CREATE INDEX perpetual_positions_subaccountid_createdatheight_perpid_index
    ON perpetual_positions ("subaccountId", "createdAtHeight", "perpetualId");
CREATE INDEX perpetual_positions_subaccountid_createdat_index
    ON perpetual_positions ("subaccountId", "createdAt");
CREATE INDEX perpetual_positions_subaccountid_status_index
    ON perpetual_positions ("subaccountId", status);
CREATE INDEX perpetual_positions_oi_open_idx
    ON perpetual_positions ("perpetualId", side) INCLUDE (size) WHERE status = 'OPEN';

-- Each side is either a subaccount or a wallet (deposits and withdrawals), never both.
CREATE TABLE transfers (
    id uuid PRIMARY KEY,
    "senderSubaccountId" uuid REFERENCES subaccounts (id),
    "recipientSubaccountId" uuid REFERENCES subaccounts (id),
    "assetId" varchar(255) NOT NULL REFERENCES assets (id),
    size numeric NOT NULL,
    "eventId" bytea NOT NULL REFERENCES tendermint_events (id),
    "transactionHash" varchar(255) NOT NULL,
    "createdAt" timestamptz NOT NULL,
    "createdAtHeight" bigint NOT NULL,
    "recipientWalletAddress" varchar(255) REFERENCES wallets (address),
    "senderWalletAddress" varchar(255) REFERENCES wallets (address),
    CONSTRAINT transfers_sender_wallet_xor_subaccount_check
        CHECK (("senderWalletAddress" IS NULL) <> ("senderSubaccountId" IS NULL)),
    CONSTRAINT transfers_recipient_wallet_xor_subaccount_check
        CHECK (("recipientWalletAddress" IS NULL) <> ("recipientSubaccountId" IS NULL))
);
CREATE INDEX transfers_assetid_createdat_index ON transfers ("assetId", "createdAt");
CREATE INDEX transfers_recipientsubaccountid_createdat_index
    ON transfers ("recipientSubaccountId", "createdAt");
CREATE INDEX transfers_recipientsubaccountid_createdatheight_index
    ON transfers ("recipientSubaccountId", "createdAtHeight");
CREATE INDEX transfers_sendersubaccountid_createdat_index
    ON transfers ("senderSubaccountId", "createdAt");
CREATE INDEX transfers_sendersubaccountid_createdatheight_index
    ON transfers ("senderSubaccountId", "createdAtHeight");

CREATE TABLE funding_index_updates (
    id uuid PRIMARY KEY,
    "perpetualId" bigint NOT NULL REFERENCES perpetual_markets (id),
    "eventId" bytea NOT NULL REFERENCES tendermint_events (id),
    rate numeric NOT NULL,
    "oraclePrice" numeric NOT NULL,
    "fundingIndex" numeric NOT NULL,
    "effectiveAt" timestamptz NOT NULL,
    "effectiveAtHeight" bigint NOT NULL REFERENCES blocks ("blockHeight")
);
CREATE INDEX funding_index_updates_effectiveatheight_index
    ON funding_index_updates ("effectiveAtHeight");
CREATE INDEX funding_index_updates_perpetualid_index ON funding_index_updates ("perpetualId");

CREATE TABLE candles (
    id uuid PRIMARY KEY,
    "startedAt" timestamptz NOT NULL,
    ticker varchar(255) NOT NULL,
    resolution text NOT NULL CHECK (resolution IN (
        '1MIN', '5MINS', '15MINS', '30MINS', '1HOUR', '4HOURS', '1DAY')),
    low numeric NOT NULL,
    high numeric NOT NULL,
    open numeric NOT NULL,
    close numeric NOT NULL,
    "baseTokenVolume" numeric NOT NULL,
    "usdVolume" numeric NOT NULL,
    trades integer NOT NULL,
    "startingOpenInterest" numeric NOT NULL,
    "orderbookMidPriceOpen" numeric,
    "orderbookMidPriceClose" numeric
);
CREATE INDEX candles_startedat_index ON candles ("startedAt");
CREATE INDEX candles_ticker_resolution_startedat_index
    ON candles (ticker, resolution, "startedAt" DESC);
CREATE INDEX candles_resolution_startedat_hourly_since_feb2025_idx
    ON candles (resolution, "startedAt")
    WHERE resolution IN ('1HOUR', '4HOURS') AND "startedAt" >= '2025-02-01 00:00:00+00';

CREATE TABLE trading_rewards (
    id uuid PRIMARY KEY,
    address varchar(255) NOT NULL REFERENCES wallets (address),
    "blockTime" timestamptz NOT NULL,
    "blockHeight" bigint NOT NULL,
    amount numeric(27, 18) NOT NULL
);
CREATE INDEX trading_rewards_address_index ON trading_rewards (address);
CREATE INDEX trading_rewards_blockheight_index ON trading_rewards ("blockHeight");
CREATE INDEX trading_rewards_blocktime_index ON trading_rewards ("blockTime");

CREATE TABLE affiliate_referred_users (
    "refereeAddress" varchar(255) PRIMARY KEY,
    "affiliateAddress" varchar(255) NOT NULL,
    "referredAtBlock" bigint NOT NULL
);
CREATE INDEX affiliate_referred_users_affiliateaddress_index
    ON affiliate_referred_users ("affiliateAddress");

CREATE TABLE vaults (
    address varchar(255) PRIMARY KEY,
    "clobPairId" bigint NOT NULL,
    status text NOT NULL CHECK (status IN ('DEACTIVATED', 'STAND_BY', 'QUOTING', 'CLOSE_ONLY')),
    "createdAt" timestamptz NOT NULL,
    "updatedAt" timestamptz NOT NULL
);
