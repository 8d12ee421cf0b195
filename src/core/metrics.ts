/** Aggregates the metric queries return; plain numbers, no I/O. */

export interface ProviderStats {
  /** gen_route rows of this provider in the window. */
  requests: number;
  failures: number;
  latencySamples: number;
  /** gen_route rows whose latency_ms is missing, non-numeric, negative or absurd. */
  latencySkipped: number;
  p95LatencyMs: number | null;
  costSamples: number;
  /** cost_per_image present but non-numeric, negative or absurd. */
  costSkipped: number;
  avgCostPerImage: number | null;
}

export interface RouteWindow {
  windowMs: number;
  end: Date;
  /** Keyed by provider as logged; unknown providers appear under their own key. */
  providers: Record<string, ProviderStats>;
}

export interface VoucherWindow {
  windowMs: number;
  end: Date;
  vouchers: number;
  genOk: number;
}

export interface MetricsSnapshot {
  at: Date;
  routes: RouteWindow[];
  vouchers: VoucherWindow[];
}

export const emptyStats = (): ProviderStats => ({
  requests: 0,
  failures: 0,
  latencySamples: 0,
  latencySkipped: 0,
  p95LatencyMs: null,
  costSamples: 0,
  costSkipped: 0,
  avgCostPerImage: null,
});

export function routeWindow(snapshot: MetricsSnapshot, windowMs: number): RouteWindow {
  const w = snapshot.routes.find((r) => r.windowMs === windowMs);
  if (!w) throw new Error(`no route window of ${windowMs} ms in the snapshot`);
  return w;
}

export const statsOf = (w: RouteWindow, provider: string) => w.providers[provider] ?? emptyStats();

export interface TrafficSplit {
  total: number;
  /** Share of requests in [0, 1] per provider; unknown providers summed under "other". */
  shares: Record<string, number>;
  counts: Record<string, number>;
}

export function trafficSplit(w: RouteWindow, from: string, to: string): TrafficSplit {
  const counts: Record<string, number> = { [from]: 0, [to]: 0 };
  for (const [provider, s] of Object.entries(w.providers)) {
    const key = provider === from || provider === to ? provider : 'other';
    counts[key] = (counts[key] ?? 0) + s.requests;
  }
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const shares = Object.fromEntries(Object.entries(counts).map(([k, c]) => [k, total ? c / total : 0]));
  return { total, shares, counts };
}
