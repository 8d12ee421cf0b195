// @ts-expect-error the parser ships no types; its output is prom2json's, typed below.
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export interface Sample {
  labels?: Record<string, string>;
  value?: string;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
export interface Family {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  metrics: Sample[];
}

/**
 * GET /metrics on a local port, parsed by a real Prometheus text-format parser. Its one limit: a histogram family with several label sets comes
 * back flattened (buckets merged, labels, count and sum dropped), so histograms are asserted
 * through their buckets only where one label set exists.
 */
export async function scrape(port: number): Promise<Scrape> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${await res.text()}`);
  const text = await res.text();
  return new Scrape(text, parsePrometheusTextFormat(text) as Family[], res.headers.get('content-type'));
}

export class Scrape {
  constructor(
    readonly text: string,
    readonly families: Family[],
    readonly contentType: string | null,
  ) {}

  family(name: string): Family | undefined {
    return this.families.find((f) => f.name === name);
  }

  /** The samples of a family whose labels include these; [] when the family is absent. */
  samples(name: string, labels: Record<string, string> = {}): Sample[] {
    return (this.family(name)?.metrics ?? []).filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  }

  /** The cumulative buckets (le → count) of a histogram that has one label set. */
  buckets(name: string): Record<string, number> {
    const f = this.family(name);
    if (f?.type !== 'HISTOGRAM' || f.metrics.length !== 1 || !f.metrics[0].buckets)
      throw new Error(`${name} is not a histogram with one label set`);
    return Object.fromEntries(Object.entries(f.metrics[0].buckets).map(([le, n]) => [le, Number(n)]));
  }

  /** The one value of a gauge or counter with these labels; undefined when there is none. */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    const found = this.samples(name, labels);
    if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
    return found[0]?.value === undefined ? undefined : Number(found[0].value);
  }
}
