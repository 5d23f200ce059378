/**
 * Both emulated services live in China: dates they print (refund number dates, WeChat's
 * `time_end`, Alipay's `gmt_payment`) are China Standard Time, UTC+8, with no DST.
 */
const CHINA_OFFSET_MS = 8 * 60 * 60 * 1000;

interface ChinaParts {
  year: string;
  month: string;
  day: string;
  hour: string;
  minute: string;
  second: string;
}

function chinaParts(ms: number): ChinaParts {
  const d = new Date(ms + CHINA_OFFSET_MS);
  const pad = (n: number) => String(n).padStart(2, '0');
  return {
    year: String(d.getUTCFullYear()),
    month: pad(d.getUTCMonth() + 1),
    day: pad(d.getUTCDate()),
    hour: pad(d.getUTCHours()),
    minute: pad(d.getUTCMinutes()),
    second: pad(d.getUTCSeconds()),
  };
}

/** `YYYYMMDD` in China time: the date a refund number must start with. */
export function chinaDate8(ms: number): string {
  const p = chinaParts(ms);
  return `${p.year}${p.month}${p.day}`;
}

/** `YYYYMMDDHHmmss` in China time (WeChat Pay `time_end`). */
export function chinaStamp14(ms: number): string {
  const p = chinaParts(ms);
  return `${p.year}${p.month}${p.day}${p.hour}${p.minute}${p.second}`;
}

/** `YYYY-MM-DD HH:mm:ss` in China time (Alipay timestamps). */
export function chinaDateTime(ms: number): string {
  const p = chinaParts(ms);
  return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}`;
}
