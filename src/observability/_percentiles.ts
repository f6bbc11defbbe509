// Percentile arithmetic shared by latency stats and the report.

/**
 * The nearest-rank percentile of `sorted` (ascending): the smallest value
 * with at least `p` percent of the values at or below it.
 */
export function percentile(sorted: Float64Array, p: number): number {
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.max(0, rank - 1)]!;
}
