// A small HTTP filter written with the proxy-wasm Go SDK. The emulator tests build it with the Go
// toolchain (wasip1, c-shared) and drive it, so the host is checked against a module it did not shape.
//
// Plugin configuration: "<header-name>=<header-value>" (whitespace trimmed); the pair is added to every
// response. An empty configuration is allowed and adds only the fixed header; a configuration without '='
// is rejected at configure time.
package main

import (
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

func (p *plugin) NewHttpContext(id uint32) types.HttpContext {
	return &stream{plugin: p, id: id}
}

type stream struct {
	types.DefaultHttpContext
	plugin *plugin
	id     uint32
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
