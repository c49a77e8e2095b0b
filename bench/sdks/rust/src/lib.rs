// The benchmark's anchor filter written with the proxy-wasm Rust SDK, the same logic as
// bench/filters/headers: per request, add one to the u64 little-endian counter "bench.requests" in shared
// data (compare-and-swap, retried on CasMismatch), and add `x-bench: rust` to the response.

use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, ContextType, LogLevel, Status};

const COUNTER_KEY: &str = "bench.requests";
const MAX_ATTEMPTS: usize = 8;

proxy_wasm::main! {{
    proxy_wasm::set_log_level(LogLevel::Warn);
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(HeadersRoot) });
}}

struct HeadersRoot;

impl Context for HeadersRoot {}

impl RootContext for HeadersRoot {
    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        Some(Box::new(HeadersStream))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

struct HeadersStream;

impl HeadersStream {
    fn count_request(&self) {
        for _ in 0..MAX_ATTEMPTS {
            let (value, cas) = match self.get_shared_data(COUNTER_KEY) {
                (Some(v), cas) => (v, cas),
                (None, cas) => (Vec::new(), cas),
            };
            let n = if value.len() == 8 {
                u64::from_le_bytes(value[..8].try_into().unwrap())
            } else {
                0
            };
            match self.set_shared_data(COUNTER_KEY, Some(&(n + 1).to_le_bytes()), cas) {
                Err(Status::CasMismatch) => continue,
                _ => return,
            }
        }
    }
}

impl Context for HeadersStream {}

impl HttpContext for HeadersStream {
    fn on_http_request_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.count_request();
        Action::Continue
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, _end_of_stream: bool) -> Action {
        self.add_http_response_header("x-bench", "rust");
        Action::Continue
    }
}
