// The context whose callback is running. Set by the dispatcher on every entry; read by calls that must
// switch the effective context for a moment and switch it back.

export let currentContextId: u32 = 0;

export function setCurrentContext(id: u32): void {
  currentContextId = id;
}
