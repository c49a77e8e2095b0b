import { WasmResult } from "./abi";
import { SharedData, SharedQueues } from "./shared";

const b = (s: string) => new TextEncoder().encode(s);

describe("shared data (Envoy CAS rules)", () => {
  test("cas starts at 1 and every write takes the next one, across keys and vm ids", () => {
    const d = new SharedData();
    expect(d.set("vm", b("a"), b("1"), 0)).toBe(WasmResult.Ok);
    expect(d.get("vm", b("a"))!.cas).toBe(1);
    d.set("vm", b("b"), b("1"), 0);
    d.set("other", b("a"), b("1"), 0);
    d.set("vm", b("a"), b("2"), 0);
    expect(d.get("vm", b("b"))!.cas).toBe(2);
    expect(d.get("other", b("a"))!.cas).toBe(3);
    expect(d.get("vm", b("a"))).toEqual({ value: b("2"), cas: 4 });
  });

  test("a stale cas is refused with CasMismatch and the value is kept", () => {
    const d = new SharedData();
    d.set("vm", b("k"), b("v1"), 0);
    const { cas } = d.get("vm", b("k"))!;
    expect(d.set("vm", b("k"), b("v2"), cas)).toBe(WasmResult.Ok);
    expect(d.set("vm", b("k"), b("v3"), cas)).toBe(WasmResult.CasMismatch);
    expect(d.getText("vm", "k")).toBe("v2");
  });

  test("a missing key is created whatever the cas, so two workers can both create it", () => {
    const d = new SharedData();
    expect(d.get("vm", b("new"))).toBeUndefined();
    expect(d.set("vm", b("new"), b("worker-1"), 12345)).toBe(WasmResult.Ok);
    // The second worker read "missing" too and writes with its (equally meaningless) cas: Envoy now
    // checks it against the existing key and refuses.
    expect(d.set("vm", b("new"), b("worker-2"), 12345)).toBe(WasmResult.CasMismatch);
    expect(d.set("vm", b("new"), b("worker-2"), 0)).toBe(WasmResult.Ok);
  });

  test("values are per vm id and copied (callers cannot mutate the store)", () => {
    const d = new SharedData();
    const v = b("x");
    d.set("a", b("k"), v, 0);
    v[0] = 0;
    expect(d.getText("a", "k")).toBe("x");
    expect(d.get("b", b("k"))).toBeUndefined();
    expect(d.keys("a").map((k) => new TextDecoder().decode(k))).toEqual(["k"]);
  });
});

describe("shared queues", () => {
  test("register returns a token, resolve finds it by vm id and name, dequeue of empty is Empty", () => {
    const q = new SharedQueues();
    const notified: Array<[number, number]> = [];
    const t = q.register("vm", "jobs", { notify: (id, ctx) => notified.push([id, ctx]) }, 1);
    expect(t).toBeGreaterThan(0);
    expect(q.register("vm", "jobs", undefined, 1)).toBe(t);
    expect(q.resolve("vm", "jobs")).toBe(t);
    expect(q.resolve("other", "jobs")).toBe(0);
    expect(q.dequeue(t).result).toBe(WasmResult.Empty);
    expect(q.dequeue(999).result).toBe(WasmResult.NotFound);
    expect(q.enqueue(999, b("x"))).toBe(WasmResult.NotFound);
  });

  test("enqueue notifies the latest registrant; items come out in order", () => {
    const q = new SharedQueues();
    const seen: number[] = [];
    const t = q.register("vm", "jobs", { notify: (_id, ctx) => seen.push(ctx) }, 1);
    q.register("vm", "jobs", { notify: (_id, ctx) => seen.push(ctx * 10) }, 2);
    q.enqueue(t, b("1"));
    q.enqueue(t, b("2"));
    expect(seen).toEqual([20, 20]);
    expect(new TextDecoder().decode(q.dequeue(t).value)).toBe("1");
    expect(q.peek("vm", "jobs").map((x) => new TextDecoder().decode(x))).toEqual(["2"]);
  });
});
