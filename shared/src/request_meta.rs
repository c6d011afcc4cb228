//! What the audit trail and sessions record about a request: the source IP as API Gateway saw
//! it (never a client-set forwarding header), the User-Agent, the route and the request id.

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

const MAX_USER_AGENT_CHARS: usize = 500;

#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub endpoint: &'static str,
}

impl RequestMeta {
    pub fn from_request(request: &Request, endpoint: &'static str) -> Self {
        Self {
            request_id: request_id(request),
            source_ip: source_ip(request),
            user_agent: user_agent(request),
            endpoint,
        }
    }
}

/// API Gateway's request id, else the Lambda invocation id, else a fresh one.
pub fn request_id(request: &Request) -> String {
    let from_gateway = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone(),
        Some(RequestContext::ApiGatewayV1(context)) => context.request_id.clone(),
        _ => None,
    };
    from_gateway
        .filter(|id| !id.is_empty())
        .or_else(|| {
            request
                .lambda_context_ref()
                .map(|context| context.request_id.clone())
        })
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

fn source_ip(request: &Request) -> Option<String> {
    let ip = match request.request_context_ref()? {
        RequestContext::ApiGatewayV2(context) => context.http.source_ip.clone(),
        RequestContext::ApiGatewayV1(context) => context.identity.source_ip.clone(),
        _ => None,
    }?;
    // 45 characters is the longest textual IPv6 address (with an embedded IPv4 part).
    ip.parse::<std::net::IpAddr>()
        .ok()
        .map(|_| ip)
        .filter(|ip| ip.len() <= 45)
}

fn user_agent(request: &Request) -> Option<String> {
    let raw = request.headers().get("user-agent")?.to_str().ok()?;
    let cleaned: String = raw
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_USER_AGENT_CHARS)
        .collect();
    (!cleaned.is_empty()).then_some(cleaned)
}
