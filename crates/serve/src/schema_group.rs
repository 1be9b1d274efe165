//! Choose the endpoint, then encode: the one place every transcoded call shape
//! (unary, server, client and bidi streams, SSE, WebSocket, Connect) gets the
//! endpoint that takes the call and the plan to transcode it with.
//!
//! During a rolling deploy the replicas behind one backend serve different
//! versions of its API. A request encoded with the descriptors of another
//! version than the receiving replica's would send it a field it misreads (a
//! new field's bytes to a replica that lacks it), and a response decoded with
//! another version's would lose fields (a new response field from the new
//! replica). So the balancer picks first (only among endpoints whose schema
//! has the method), and the request is encoded, and its response decoded,
//! with the route's plan for the picked endpoint's schema group, prebuilt at
//! table build ([`Route::plan_for`]): one lookup per request, none at all when
//! the endpoints agree. A retry stays in the same group (the upstream layer
//! sees to it).
//!
//! Native gRPC and gRPC-Web pass messages through untouched: they need no plan
//! and keep only the balancer's method filter (`Upstream::forward`).

use std::sync::Arc;

use switchboard_live::BackendRuntime;
use switchboard_routes::Route;
use switchboard_transcode::MethodPlan;
use switchboard_upstream::Picked;
use tonic::Status;

/// The endpoint for the next call of `route` on `backend`, and the plan for
/// its schema. UNAVAILABLE when no endpoint can take the call.
pub(crate) fn choose<'r>(
    backend: &BackendRuntime,
    route: &'r Route,
) -> Result<(Picked, &'r Arc<MethodPlan>), Status> {
    let picked = backend.upstream.pick(&route.grpc_path)?;
    let plan = route.plan_for(picked.schema());
    Ok((picked, plan))
}

/// [`choose`] for a call that may have no route (a Connect call with the
/// binary codec, on a method the table has no default route for): the plan
/// is `None` then.
pub(crate) fn choose_for_path<'r>(
    backend: &BackendRuntime,
    path: &str,
    route: Option<&'r Route>,
) -> Result<(Picked, Option<&'r Arc<MethodPlan>>), Status> {
    match route {
        Some(route) => choose(backend, route).map(|(picked, plan)| (picked, Some(plan))),
        None => backend.upstream.pick(path).map(|picked| (picked, None)),
    }
}
