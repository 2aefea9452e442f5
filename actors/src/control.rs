//! The bridge between the QUIC control plane and the actors: frames in, envelopes to the
//! session actor's mailbox, envelopes out. Control traffic is rare (one request per session
//! set-up), so it may go through a mailbox; game packets never do.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix::Addr;
use lightspeed_mesh::identity::{Identity, MeshTrust};
use lightspeed_mesh::quic::{self, ControlClient, Handler, PeerInfo, QuicError, TransportSettings};
use lightspeed_protocol::control::{
    ControlError, Envelope, ErrorCode, Message, decode_frame, encode_frame,
};

use crate::session::{Control, SessionActor};
use crate::spec::PeerSpec;

/// Encodes an envelope into a frame.
pub fn encode(env: &Envelope) -> Result<Vec<u8>, ControlError> {
    let mut out = Vec::new();
    encode_frame(env, &mut out)?;
    Ok(out)
}

/// Decodes one whole frame.
pub fn decode(frame: &[u8]) -> Result<Envelope, ControlError> {
    let (env, used) = decode_frame(frame)?;
    if used != frame.len() {
        return Err(ControlError::TrailingBytes {
            count: frame.len() - used,
        });
    }
    Ok(env)
}

/// An error reply to `request_id`.
pub fn error_reply(request_id: u64, code: ErrorCode, message: impl Into<String>) -> Envelope {
    let mut message: String = message.into();
    message.truncate(lightspeed_protocol::control::MAX_ERROR_MESSAGE_LEN);
    Envelope::new(request_id, None, Message::Error { code, message })
}

/// Hands each request frame to the session actor.
pub struct Bridge {
    /// The session actor.
    pub session: Addr<SessionActor>,
}

impl Handler for Bridge {
    fn handle<'a>(
        &'a self,
        peer: &'a PeerInfo,
        request: Vec<u8>,
    ) -> Pin<Box<dyn Future<Output = Vec<u8>> + Send + 'a>> {
        Box::pin(async move {
            let reply = match decode(&request) {
                Err(e) => error_reply(0, e.error_code(), e.to_string()),
                Ok(env) => {
                    let id = env.request_id;
                    match self
                        .session
                        .send(Control {
                            peer: peer.clone(),
                            env,
                        })
                        .await
                    {
                        Ok(reply) => reply,
                        Err(_) => error_reply(id, ErrorCode::Internal, "node shutting down"),
                    }
                }
            };
            // An envelope we built ourselves always encodes; an empty frame tells the peer
            // the stream failed if it somehow does not.
            encode(&reply).unwrap_or_default()
        })
    }
}

/// QUIC clients to peers, connected on first use and reused.
pub struct ClientPool {
    identity: Option<Identity>,
    trust: MeshTrust,
    transport: TransportSettings,
    clients: tokio::sync::Mutex<HashMap<(String, bool), Arc<ControlClient>>>,
}

impl ClientPool {
    /// A pool that connects as a mesh node when `identity` is set, anonymously otherwise.
    pub fn new(identity: Option<Identity>, trust: MeshTrust) -> ClientPool {
        ClientPool {
            identity,
            trust,
            transport: TransportSettings::default(),
            clients: tokio::sync::Mutex::new(HashMap::new()),
        }
    }

    /// A client to `peer`: with this node's certificate when `as_node`, else anonymous (the
    /// edge's way of talking to a proxy).
    pub async fn get(
        &self,
        peer: &PeerSpec,
        as_node: bool,
    ) -> Result<Arc<ControlClient>, QuicError> {
        let key = (peer.name.clone(), as_node);
        let mut clients = self.clients.lock().await;
        if let Some(c) = clients.get(&key) {
            return Ok(Arc::clone(c));
        }
        let config = match (&self.identity, as_node) {
            (Some(id), true) => quic::node_client_config(id, &self.transport)?,
            _ => quic::edge_client_config(&self.trust, &self.transport)?,
        };
        let endpoint = quic::client_endpoint(config, peer.control)?;
        let client =
            Arc::new(ControlClient::connect(endpoint, peer.control, &peer.server_name).await?);
        clients.insert(key, Arc::clone(&client));
        Ok(client)
    }

    /// Closes every connection.
    pub async fn close_all(&self) {
        for c in self.clients.lock().await.values() {
            c.close().await;
        }
    }
}
