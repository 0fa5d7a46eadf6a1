//! The boundary between transactions and the cluster.

use tessera_api::batch::{BatchRequest, BatchResponse};
use tessera_api::error::KvResult;

/// Sends a batch to the ranges that hold its keys and returns their combined responses.
///
/// Implementations must guarantee:
/// - the responses are in the order of the requests;
/// - a batch that lies in one range is evaluated atomically (all of its writes or none);
///   a batch across ranges is split, and each part is atomic on its own;
/// - routing errors (`RangeKeyMismatch`, `RangeNotFound`) are retried internally after
///   refreshing range descriptors, never returned for a key some range holds;
/// - `EndTxn` and `HeartbeatTxn` are routed to the range holding the transaction's anchor key
///   (`txn.meta.key`);
/// - the receiver's clock is updated with `header.now`, and `BatchResponse::now` carries the
///   receiver's clock back.
#[async_trait::async_trait]
pub trait Sender: Send + Sync + 'static {
    /// Sends the batch.
    async fn send(&self, ba: BatchRequest) -> KvResult<BatchResponse>;
}
