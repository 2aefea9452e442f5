//! The SessionActor's side of automatic routing (edge): carries out the route actor's
//! [`MovePath`] — `PathSetup` for the new path on the standby slot, bind it, then make it
//! active once its Bind is answered — and reports the data plane's own moves back.

use actix::prelude::*;

use lightspeed_protocol::SessionId;
use lightspeed_protocol::control::{Envelope, Message};

use super::{REQUEST_TIMEOUT, SessionActor, SetupError, random_trace};
use crate::control::{decode, encode};
use crate::route_auto::{MovePath, PathEvent, PathEventKind, PathMoved};

impl SessionActor {
    /// Whether this edge routes automatically (`edge.route = "auto"`).
    pub(super) fn auto_routed(&self) -> bool {
        self.spec.edge.as_ref().is_some_and(|e| e.routing.auto)
    }

    /// Tells the route actor what the data plane did to a session's paths.
    pub(super) fn tell_route(&self, session: SessionId, kind: PathEventKind) {
        if self.auto_routed() {
            self.route.do_send(PathEvent { session, kind });
        }
    }

    /// A standby bound: if the route actor is moving the session there, switch now.
    pub(super) fn standby_bound(&mut self, session: SessionId, path: u8) {
        if self.activations.get(&session) != Some(&path) {
            return;
        }
        self.activations.remove(&session);
        let ok = self.dp.switch_path(session, path);
        self.route.do_send(PathMoved {
            session,
            slot: path,
            ok,
        });
    }
}

impl Handler<MovePath> for SessionActor {
    type Result = ();
    fn handle(&mut self, msg: MovePath, ctx: &mut Context<Self>) {
        let MovePath {
            session,
            slot,
            path,
            activate,
            loss_prior_ppm,
        } = msg;
        let Some(path) = path else {
            // The slot already holds the path: switch at once.
            let ok = self.dp.switch_path(session, slot);
            self.route.do_send(PathMoved { session, slot, ok });
            return;
        };
        let request_id = self.next_request;
        self.next_request += 1;
        let pool = std::sync::Arc::clone(&self.pool);
        let (hops, proxy, first_hop) = (path.hops(), path.proxy.clone(), path.first_hop());
        let request = async move {
            let env = Envelope::new(
                request_id,
                random_trace(),
                Message::PathSetup {
                    session,
                    path_id: slot,
                    path: hops,
                },
            );
            let quic = pool.get(&proxy, false).await?;
            let reply = decode(&quic.request(&encode(&env)?, REQUEST_TIMEOUT).await?)?;
            match reply.body {
                Message::Ack => Ok(()),
                Message::Error { code, message } => Err(SetupError::Refused { code, message }),
                _ => Err(SetupError::Unexpected),
            }
        };
        ctx.spawn(request.into_actor(self).map(move |res, act, _ctx| {
            let bound = match res {
                Ok(()) => {
                    let bound = act.dp.set_standby(session, slot, first_hop);
                    if bound {
                        act.dp.set_path_loss_prior(session, slot, loss_prior_ppm);
                    }
                    bound
                }
                Err(e) => {
                    tracing::warn!(session = %session, slot, error = %e, "path set-up failed");
                    false
                }
            };
            if let Some(paths) = act.edge_paths.get_mut(&session)
                && let Some(p) = paths.paths.get_mut(usize::from(slot))
            {
                *p = bound.then_some(path);
            }
            if bound && activate {
                // Switch when the new path's Bind is answered (DataEvent::StandbyBound).
                act.activations.insert(session, slot);
            } else {
                act.route.do_send(PathMoved {
                    session,
                    slot,
                    ok: bound,
                });
            }
        }));
    }
}
