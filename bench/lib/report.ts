/** One line of the results table: a figure, what it was measured against in the same run, and the target. */
export interface ResultRow {
  benchmark: string;
  case: string;
  measured: string;
  baseline?: string;
  ratio?: number;
  target: string;
  /** null: an informative row, with no target to meet (shown as "—"). */
  met: boolean | null;
}

export function formatTable(rows: ResultRow[]): string {
  const header = ['benchmark', 'case', 'measured', 'baseline (same run)', 'ratio', 'target', 'met'];
  const lines = rows.map((row) => [
    row.benchmark,
    row.case,
    row.measured,
    row.baseline ?? '',
    row.ratio === undefined ? '' : row.ratio.toFixed(2),
    row.target,
    row.met === null ? '—' : row.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column].length)));
  const render = (cells: string[]) => cells.map((cell, column) => cell.padEnd(widths[column])).join(' | ');
  return [render(header), widths.map((width) => '-'.repeat(width)).join('-|-'), ...lines.map(render)].join('\n');
}
