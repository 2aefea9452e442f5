//! FecActor: applies the node's FEC setting to each new session (the policy is the pure
//! `fec_policy`); the adaptive version of the routing work grows here.

use std::time::Duration;

use actix::prelude::*;
use lightspeed_protocol::fec::FecScheme;

use crate::fec_policy;
use crate::spec::FecSetting;

/// Chooses FEC per session.
#[derive(Debug)]
pub struct FecActor {
    setting: FecSetting,
    deadline: Duration,
}

impl FecActor {
    /// An actor applying `setting`, with `deadline` for explicitly configured block codes.
    pub fn new(setting: FecSetting, deadline: Duration) -> FecActor {
        FecActor { setting, deadline }
    }
}

impl Actor for FecActor {
    type Context = Context<Self>;
}

/// The scheme and group deadline an edge proposes for a new session of `game`.
#[derive(Debug, Message)]
#[rtype(result = "(FecScheme, Duration)")]
pub struct ProposeFec {
    /// The game profile id, if known.
    pub game: Option<String>,
}

impl Handler<ProposeFec> for FecActor {
    type Result = MessageResult<ProposeFec>;
    fn handle(&mut self, msg: ProposeFec, _ctx: &mut Context<Self>) -> Self::Result {
        let pps = msg
            .game
            .as_deref()
            .and_then(lightspeed_edge::profiles::profile)
            .map(|p| p.upstream.pps);
        MessageResult(fec_policy::choose_with_deadline(
            self.setting,
            self.deadline,
            pps,
        ))
    }
}

/// A proxy's answer to an edge's proposal.
#[derive(Debug, Message)]
#[rtype(result = "FecScheme")]
pub struct AcceptFec(pub FecScheme);

impl Handler<AcceptFec> for FecActor {
    type Result = MessageResult<AcceptFec>;
    fn handle(&mut self, msg: AcceptFec, _ctx: &mut Context<Self>) -> Self::Result {
        MessageResult(fec_policy::accept(msg.0))
    }
}
