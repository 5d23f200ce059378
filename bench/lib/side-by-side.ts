import type { LoadResult } from './load';

/** One side of a side-by-side run, summarised over its rounds. */
export interface SideSummary {
  /** Median over the rounds. */
  requestsPerSecond: number;
  /** Median over the rounds of each round's p50. */
  latencyP50Ms: number;
  /** Median over the rounds of each round's p99. */
  latencyP99Ms: number;
  /** Sum over the rounds. */
  non2xx: number;
  /** Sum over the rounds. */
  errors: number;
}

export interface SideBySideResult {
  baseline: SideSummary;
  subject: SideSummary;
  /** Subject / baseline requests per second of each round, in the order the rounds ran. */
  ratios: number[];
  /** Median of `ratios`. */
  medianRatio: number;
  /** Every round's raw results, in the order they ran. */
  rounds: Array<{ baseline: LoadResult; subject: LoadResult }>;
}

/**
 * Median; for an even count, the mean of the two middle values. Empty input is an error.
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

function summarise(results: readonly LoadResult[]): SideSummary {
  return {
    requestsPerSecond: median(results.map((result) => result.requestsPerSecond)),
    latencyP50Ms: median(results.map((result) => result.latencyP50Ms)),
    latencyP99Ms: median(results.map((result) => result.latencyP99Ms)),
    non2xx: results.reduce((sum, result) => sum + result.non2xx, 0),
    errors: results.reduce((sum, result) => sum + result.errors, 0),
  };
}

/**
 * Runs baseline, subject, baseline, subject, … (`rounds` of each, one at a time, never
 * concurrently) so that both sides see the same stretches of a noisy machine, and returns
 * the medians of each side and of the per-round throughput ratios.
 */
export async function sideBySide(
  baseline: () => Promise<LoadResult>,
  subject: () => Promise<LoadResult>,
  rounds: number,
): Promise<SideBySideResult> {
  const [result] = await takingTurns(baseline, [subject], rounds);
  return result;
}

/**
 * `sideBySide` for several subjects at once: every round runs baseline, first subject,
 * baseline, second subject, …, so that each subject's ratio is to the baseline run just
 * before it and the subjects of one round ran minutes apart at most. One result per subject,
 * in their order.
 */
export async function takingTurns(
  baseline: () => Promise<LoadResult>,
  subjects: ReadonlyArray<() => Promise<LoadResult>>,
  rounds: number,
): Promise<SideBySideResult[]> {
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`rounds must be a positive integer, got ${rounds}`);
  const results: Array<SideBySideResult['rounds']> = subjects.map(() => []);
  for (let round = 0; round < rounds; round += 1) {
    for (const [index, subject] of subjects.entries()) {
      const baselineResult = await baseline();
      const subjectResult = await subject();
      results[index].push({ baseline: baselineResult, subject: subjectResult });
    }
  }
  return results.map((runs) => {
    const ratios = runs.map((run) => run.subject.requestsPerSecond / run.baseline.requestsPerSecond);
    return {
      baseline: summarise(runs.map((run) => run.baseline)),
      subject: summarise(runs.map((run) => run.subject)),
      ratios,
      medianRatio: median(ratios),
      rounds: runs,
    };
  });
}

/** The per-round ratios for a table cell: "rounds 0.61/0.72/0.80", in the order they ran. */
export function formatRatios(ratios: readonly number[]): string {
  return `rounds ${ratios.map((ratio) => ratio.toFixed(2)).join('/')}`;
}
