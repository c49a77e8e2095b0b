// The benchmark's anchor filter written with the proxy-wasm Go SDK, the same logic as
// bench/filters/headers: per request, add one to the u64 little-endian counter "bench.requests" in shared
// data (compare-and-swap, retried on CasMismatch), and add `x-bench: go` to the response.
package main

import (
	"encoding/binary"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

const (
	counterKey  = "bench.requests"
	maxAttempts = 8
)

func main() {}

func init() {
	proxywasm.SetVMContext(&vm{})
}

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &plugin{} }

type plugin struct{ types.DefaultPluginContext }

func (*plugin) NewHttpContext(uint32) types.HttpContext { return &stream{} }

type stream struct{ types.DefaultHttpContext }

func countRequest() {
	for attempt := 0; attempt < maxAttempts; attempt++ {
		value, cas, err := proxywasm.GetSharedData(counterKey)
		var n uint64
		switch {
		case err == nil:
			if len(value) == 8 {
				n = binary.LittleEndian.Uint64(value)
			}
		case err == types.ErrorStatusNotFound:
			cas = 0
		default:
			return
		}
		var next [8]byte
		binary.LittleEndian.PutUint64(next[:], n+1)
		if err := proxywasm.SetSharedData(counterKey, next[:], cas); err != types.ErrorStatusCasMismatch {
			return
		}
	}
}

func (*stream) OnHttpRequestHeaders(int, bool) types.Action {
	countRequest()
	return types.ActionContinue
}

func (*stream) OnHttpResponseHeaders(int, bool) types.Action {
	_ = proxywasm.AddHttpResponseHeader("x-bench", "go")
	return types.ActionContinue
}
