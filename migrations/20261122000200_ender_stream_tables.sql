-- What this project adds to the reference schema (beyond.md §1-2). Our own tables use
-- snake_case so they cannot be mistaken for reference tables.

-- Ender's progress: at most one row, written in the same transaction as each block. The row is
-- created with the first block processed into this database, so start_height is the height the
-- database started at and epoch (the stream epoch carried by every websocket message) is drawn
-- once; it changes only when the database is rebuilt (cleared or recreated), which removes the row.
CREATE TABLE ender_progress (
    id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    last_processed_height bigint NOT NULL,
    start_height bigint NOT NULL,
    epoch uuid NOT NULL DEFAULT gen_random_uuid(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ender_progress_heights_check CHECK (last_processed_height >= start_height)
);

-- Kafka messages (to-websockets-*, to-vulcan) produced by a block, written in the block's
-- transaction. The relay publishes rows in id order and deletes them once the broker has
-- acknowledged them, so a crash between commit and publish loses nothing.
CREATE TABLE ender_outbox (
    id bigserial PRIMARY KEY,
    block_height bigint NOT NULL,
    topic text NOT NULL,
    partition_key bytea,
    payload bytea NOT NULL,
    headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ender_outbox_block_height_idx ON ender_outbox (block_height);

-- The last sequence number assigned per websocket channel id (e.g. v4_subaccounts /
-- dydx1...:0), advanced inside the block transaction so every socks instance sees the same
-- gap-free numbering.
CREATE TABLE channel_sequences (
    channel text NOT NULL,
    channel_id text NOT NULL,
    seq bigint NOT NULL CHECK (seq >= 0),
    PRIMARY KEY (channel, channel_id)
);
