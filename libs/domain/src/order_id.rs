//! Kafka keys derived from protocol ids, and UUIDs of protocol ids. Every producer to `to-vulcan`
//! keys a message by SHA-256 of the protobuf encoding of its `IndexerOrderId`, so all updates of
//! one order land on one partition in order (ingest.md §4.6, §8 item 10); subaccount websocket
//! messages are keyed by the protobuf encoding of the `IndexerSubaccountId` (ingest.md §4.8). The
//! partition number (murmur2 of the key) is computed in `indexer-bus`, not here.

use indexer_proto::protocol::v1::{IndexerOrderId, IndexerSubaccountId};
use prost::Message;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::ids;

/// Kafka key of a `to-vulcan` message: SHA-256 of the protobuf encoding of the order id.
pub fn order_id_key(order_id: &IndexerOrderId) -> [u8; 32] {
    Sha256::digest(order_id.encode_to_vec()).into()
}

/// Kafka key of a `to-websockets-subaccounts` message: the protobuf encoding of the subaccount id.
pub fn subaccount_key(subaccount_id: &IndexerSubaccountId) -> Vec<u8> {
    subaccount_id.encode_to_vec()
}

/// [`ids::subaccount_uuid`] of a protocol subaccount id.
pub fn subaccount_uuid(subaccount_id: &IndexerSubaccountId) -> Uuid {
    ids::subaccount_uuid(&subaccount_id.owner, subaccount_id.number)
}

/// [`ids::order_uuid`] of a protocol order id (flags as given: the Redis / vulcan id).
pub fn order_uuid(order_id: &IndexerOrderId) -> Result<Uuid> {
    Ok(ids::order_uuid(
        subaccount_uuid(subaccount_of(order_id)?),
        order_id.client_id,
        order_id.clob_pair_id,
        order_id.order_flags,
    ))
}

/// [`ids::db_order_uuid`] of a protocol order id (TWAP suborders map to the parent row).
pub fn db_order_uuid(order_id: &IndexerOrderId) -> Result<Uuid> {
    Ok(ids::db_order_uuid(
        subaccount_uuid(subaccount_of(order_id)?),
        order_id.client_id,
        order_id.clob_pair_id,
        order_id.order_flags,
    ))
}

fn subaccount_of(order_id: &IndexerOrderId) -> Result<&IndexerSubaccountId> {
    order_id
        .subaccount_id
        .as_ref()
        .ok_or(Error::MissingField("IndexerOrderId.subaccount_id"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subaccount() -> IndexerSubaccountId {
        IndexerSubaccountId {
            owner: "dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc565lnf".into(),
            number: 0,
        }
    }

    fn order_id() -> IndexerOrderId {
        IndexerOrderId {
            subaccount_id: Some(subaccount()),
            client_id: 123,
            order_flags: 64,
            clob_pair_id: 0,
        }
    }

    #[test]
    fn order_id_encoding_and_key_vector() {
        assert_eq!(
            hex::encode(order_id().encode_to_vec()),
            "0a2d0a2b64796478316e38387563333878686a67787a77396e777265346570326338676134666a78633536356c6e66157b0000001840"
        );
        assert_eq!(
            hex::encode(order_id_key(&order_id())),
            "8d7c60afdf6805f13355bbaac83e5d01ab6d93d443fc060d227fa5662835b6bb"
        );
    }

    #[test]
    fn subaccount_key_vector() {
        assert_eq!(
            hex::encode(subaccount_key(&subaccount())),
            "0a2b64796478316e38387563333878686a67787a77396e777265346570326338676134666a78633536356c6e66"
        );
    }

    #[test]
    fn uuids_of_protocol_ids() {
        let expected = Uuid::parse_str("9b28d3e5-171d-5d7c-9006-f417365d6622").unwrap();
        assert_eq!(order_uuid(&order_id()).unwrap(), expected);
        assert_eq!(db_order_uuid(&order_id()).unwrap(), expected);

        let suborder = IndexerOrderId {
            client_id: 9,
            order_flags: 256,
            ..order_id()
        };
        let parent = Uuid::parse_str("2e2354f5-283d-50f9-8b66-92d01e8df8ff").unwrap();
        assert_eq!(db_order_uuid(&suborder).unwrap(), parent);
        assert_ne!(order_uuid(&suborder).unwrap(), parent);

        let missing = IndexerOrderId {
            subaccount_id: None,
            ..order_id()
        };
        assert!(order_uuid(&missing).is_err());
    }
}
