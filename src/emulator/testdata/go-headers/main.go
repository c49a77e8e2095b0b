// A small HTTP filter written with the proxy-wasm Go SDK. The emulator tests build it with the Go
// toolchain (wasip1, c-shared) and drive it, so the host is checked against a module it did not shape.
//
// Plugin configuration: "<header-name>=<header-value>" (whitespace trimmed); the pair is added to every
// response. An empty configuration is allowed and adds only the fixed header; a configuration without '='
// is rejected at configure time.
//
// A few request paths exercise more of the ABI:
//
//	/callout  asks cluster "auth" (HTTP call) and continues with x-auth: ok on 200, answers 403 otherwise
//	/deny     answers 401 locally
//	/upper    buffers the whole request body and forwards it upper-cased
//	/panic    panics (the VM traps and fails)
//
// Every second (tick) it bumps shared-data key "ticks" with a CAS loop; items on shared queue "jobs"
// are logged as "job: <item>".
package main

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

func main() {}

func init() {
	proxywasm.SetVMContext(&vm{})
}

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &plugin{} }

type plugin struct {
	types.DefaultPluginContext
	name, value string
	requests    proxywasm.MetricCounter
}

func (p *plugin) OnPluginStart(int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && err != types.ErrorStatusNotFound {
		proxywasm.LogCriticalf("cannot read plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	p.requests = proxywasm.DefineCounterMetric("go_headers_requests")
	if err := proxywasm.SetTickPeriodMilliSeconds(1000); err != nil {
		proxywasm.LogCriticalf("cannot set tick period: %v", err)
		return types.OnPluginStartStatusFailed
	}
	if _, err := proxywasm.RegisterSharedQueue("jobs"); err != nil {
		proxywasm.LogCriticalf("cannot register queue: %v", err)
		return types.OnPluginStartStatusFailed
	}
	cfg := strings.TrimSpace(string(data))
	if cfg == "" {
		proxywasm.LogInfo("no configured header")
		return types.OnPluginStartStatusOK
	}
	name, value, ok := strings.Cut(cfg, "=")
	if !ok {
		proxywasm.LogCriticalf("bad configuration %q: want name=value", cfg)
		return types.OnPluginStartStatusFailed
	}
	p.name, p.value = strings.TrimSpace(name), strings.TrimSpace(value)
	proxywasm.LogInfof("configured header %s=%s", p.name, p.value)
	return types.OnPluginStartStatusOK
}

func (p *plugin) OnTick() {
	for {
		value, cas, err := proxywasm.GetSharedData("ticks")
		n := 0
		if err == nil {
			n, _ = strconv.Atoi(string(value))
		} else if err != types.ErrorStatusNotFound {
			proxywasm.LogErrorf("cannot read ticks: %v", err)
			return
		}
		err = proxywasm.SetSharedData("ticks", []byte(strconv.Itoa(n+1)), cas)
		if err == nil {
			return
		}
		if err != types.ErrorStatusCasMismatch {
			proxywasm.LogErrorf("cannot write ticks: %v", err)
			return
		}
	}
}

func (p *plugin) OnQueueReady(queueID uint32) {
	for {
		item, err := proxywasm.DequeueSharedQueue(queueID)
		if err == types.ErrorStatusEmpty {
			return
		}
		if err != nil {
			proxywasm.LogErrorf("cannot dequeue: %v", err)
			return
		}
		proxywasm.LogInfof("job: %s", item)
	}
}

func (p *plugin) NewHttpContext(id uint32) types.HttpContext {
	return &stream{plugin: p, id: id}
}

type stream struct {
	types.DefaultHttpContext
	plugin *plugin
	id     uint32
	path   string
}

func (s *stream) OnHttpRequestHeaders(int, bool) types.Action {
	s.plugin.requests.Increment(1)
	headers, err := proxywasm.GetHttpRequestHeaders()
	if err != nil {
		proxywasm.LogErrorf("cannot read request headers: %v", err)
		return types.ActionContinue
	}
	for _, h := range headers {
		proxywasm.LogInfof("request header %s: %s", h[0], h[1])
	}
	if _, err := proxywasm.GetHttpRequestHeader("x-missing"); err != types.ErrorStatusNotFound {
		proxywasm.LogErrorf("x-missing lookup: want NotFound, got %v", err)
	}
	if _, err := proxywasm.GetHttpResponseHeader("content-type"); err != types.ErrorStatusBadArgument {
		proxywasm.LogErrorf("response header during the request: want BadArgument, got %v", err)
	}
	if src, err := proxywasm.GetProperty([]string{"source", "address"}); err == nil {
		proxywasm.LogInfof("source %s", src)
	}
	s.path, _ = proxywasm.GetHttpRequestHeader(":path")
	switch s.path {
	case "/panic":
		panic("boom")
	case "/deny":
		if err := proxywasm.SendHttpResponse(401, [][2]string{{"WWW-Authenticate", "Bearer"}}, []byte("denied"), -1); err != nil {
			proxywasm.LogErrorf("cannot send local response: %v", err)
		}
		return types.ActionPause
	case "/callout":
		headers := [][2]string{{":method", "GET"}, {":path", "/check"}, {":authority", "auth"}}
		if _, err := proxywasm.DispatchHttpCall("auth", headers, nil, nil, 5000, s.onAuth); err != nil {
			proxywasm.LogErrorf("cannot call auth: %v", err)
			return types.ActionContinue
		}
		return types.ActionPause
	}
	return types.ActionContinue
}

func (s *stream) onAuth(numHeaders, bodySize, numTrailers int) {
	status := ""
	if headers, err := proxywasm.GetHttpCallResponseHeaders(); err == nil {
		for _, h := range headers {
			if h[0] == ":status" {
				status = h[1]
			}
		}
	}
	body, _ := proxywasm.GetHttpCallResponseBody(0, bodySize)
	proxywasm.LogInfof("auth answered %q with %d headers, body %q", status, numHeaders, body)
	if status != "200" {
		if err := proxywasm.SendHttpResponse(403, nil, []byte("forbidden"), -1); err != nil {
			proxywasm.LogErrorf("cannot send local response: %v", err)
		}
		return
	}
	if err := proxywasm.AddHttpRequestHeader("x-auth", "ok"); err != nil {
		proxywasm.LogErrorf("cannot add x-auth: %v", err)
	}
	if err := proxywasm.ResumeHttpRequest(); err != nil {
		proxywasm.LogErrorf("cannot resume: %v", err)
	}
}

func (s *stream) OnHttpRequestBody(bodySize int, endOfStream bool) types.Action {
	if s.path != "/upper" {
		return types.ActionContinue
	}
	if !endOfStream {
		return types.ActionPause
	}
	body, err := proxywasm.GetHttpRequestBody(0, bodySize)
	if err != nil {
		proxywasm.LogErrorf("cannot read body: %v", err)
		return types.ActionContinue
	}
	if err := proxywasm.ReplaceHttpRequestBody(bytes.ToUpper(body)); err != nil {
		proxywasm.LogErrorf("cannot replace body: %v", err)
	}
	return types.ActionContinue
}

func (s *stream) OnHttpResponseHeaders(int, bool) types.Action {
	if err := proxywasm.AddHttpResponseHeader("x-go-headers", "1"); err != nil {
		proxywasm.LogErrorf("cannot add x-go-headers: %v", err)
	}
	if s.plugin.name != "" {
		if err := proxywasm.AddHttpResponseHeader(s.plugin.name, s.plugin.value); err != nil {
			proxywasm.LogErrorf("cannot add %s: %v", s.plugin.name, err)
		}
	}
	return types.ActionContinue
}

func (s *stream) OnHttpStreamDone() {
	proxywasm.LogInfof("stream %d done", s.id)
}
