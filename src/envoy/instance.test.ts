import { envoyErrors, parseListenerPorts, parseStats } from "./instance";
import { waitFor } from "./wait";

describe("envoy: admin and log parsing", () => {
  test("stats keep counters and gauges, drop histograms and text readouts", () => {
    const body = JSON.stringify({
      stats: [
        { name: "http.ingress.rq_total", value: 3 },
        { name: "server.version_text", value: "1.40.0" },
        { histograms: { supported_quantiles: [0.5], computed_quantiles: [] } },
      ],
    });
    expect([...parseStats(body)]).toEqual([["http.ingress.rq_total", 3]]);
  });

  test("listener ports come from listener_statuses", () => {
    const body = JSON.stringify({ listener_statuses: [{ name: "a", local_address: { socket_address: { address: "127.0.0.1", port_value: 4321 } } }] });
    expect(parseListenerPorts(body)).toEqual({ a: 4321 });
  });

  test("envoyErrors quotes critical and error entries with their continuation lines", () => {
    const log = [
      "[2026-01-01 00:00:00.000][1][info][main] [a.cc:1] starting",
      "[2026-01-01 00:00:00.001][1][critical][main] [b.cc:2] error `x",
      "  detail line",
      "` initializing config",
      "[2026-01-01 00:00:00.002][1][info][main] [c.cc:3] exiting",
    ].join("\n");
    expect(envoyErrors(log)).toBe("[2026-01-01 00:00:00.001][1][critical][main] [b.cc:2] error `x\n  detail line\n` initializing config");
    expect(envoyErrors("no timestamps here\nlast line")).toBe("no timestamps here\nlast line");
  });

  test("waitFor reports the probe's last error on timeout", async () => {
    await expect(
      waitFor(
        () => {
          throw new Error("connection refused");
        },
        { timeoutMs: 60, intervalMs: 10, what: "the thing" },
      ),
    ).rejects.toThrow("timed out after 60 ms waiting for the thing (last error: connection refused)");
  });
});
