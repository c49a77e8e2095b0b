// RFC 3339 timestamps ("2025-06-01T09:00:00Z", "2025-06-01T11:00:00.5+02:00") to nanoseconds since the
// Unix epoch, for `active_window`. Parsed once at configure time.

/** Nanoseconds since the epoch, or i64.MIN_VALUE when `s` is not an RFC 3339 date-time (1970..2262). */
export function parseTimestampNanos(s: string): i64 {
  const n = s.length;
  // YYYY-MM-DDTHH:MM:SS is 19 characters, then optional fraction, then Z or ±HH:MM.
  if (n < 20) return i64.MIN_VALUE;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return i64.MIN_VALUE;
  if (s.charCodeAt(4) != 45 || s.charCodeAt(7) != 45 || s.charCodeAt(13) != 58 || s.charCodeAt(16) != 58) return i64.MIN_VALUE;
  const t = s.charCodeAt(10);
  if (t != 84 && t != 116 && t != 32) return i64.MIN_VALUE; // "T", "t" or " " (RFC 3339 allows the space)
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return i64.MIN_VALUE;
  // 60 is a leap second: counted as the next second, as Unix time does.
  if (hour > 23 || minute > 59 || second > 60) return i64.MIN_VALUE;

  let i = 19;
  let fraction: i64 = 0;
  if (s.charCodeAt(i) == 46) {
    i++;
    let count = 0;
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c < 48 || c > 57) break;
      if (count < 9) { fraction = fraction * 10 + (c - 48); count++; }
      i++;
    }
    if (count == 0) return i64.MIN_VALUE;
    for (; count < 9; count++) fraction *= 10;
  }
  if (i >= n) return i64.MIN_VALUE;
  let offsetSeconds: i64 = 0;
  const z = s.charCodeAt(i);
  if (z == 90 || z == 122) {
    i++;
  } else if (z == 43 || z == 45) {
    if (i + 6 != n || s.charCodeAt(i + 3) != 58) return i64.MIN_VALUE;
    const oh = digits(s, i + 1, 2);
    const om = digits(s, i + 4, 2);
    if (oh < 0 || om < 0 || oh > 23 || om > 59) return i64.MIN_VALUE;
    offsetSeconds = <i64>(oh * 3600 + om * 60);
    if (z == 45) offsetSeconds = -offsetSeconds;
    i += 6;
  } else {
    return i64.MIN_VALUE;
  }
  if (i != n) return i64.MIN_VALUE;

  const seconds = daysSinceEpoch(year, month, day) * 86400 + <i64>(hour * 3600 + minute * 60 + second) - offsetSeconds;
  // i64 nanoseconds reach 2262-04-11; refuse what does not fit (and anything before 1970).
  if (seconds < 0 || seconds > 9_223_372_035) return i64.MIN_VALUE;
  return seconds * 1_000_000_000 + fraction;
}

/** The value of `count` decimal digits at `at`, or -1. */
function digits(s: string, at: i32, count: i32): i32 {
  let v = 0;
  for (let i = at; i < at + count; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

function isLeap(y: i32): bool { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

function daysInMonth(y: i32, m: i32): i32 {
  if (m == 2) return isLeap(y) ? 29 : 28;
  return m == 4 || m == 6 || m == 9 || m == 11 ? 30 : 31;
}

/** Days from 1970-01-01 to the given civil date (proleptic Gregorian). */
function daysSinceEpoch(y: i32, m: i32, d: i32): i64 {
  // Count with years starting in March, so the leap day is the last day of the year.
  const yy = <i64>(m <= 2 ? y - 1 : y);
  const era = (yy >= 0 ? yy : yy - 399) / 400;
  const yearOfEra = yy - era * 400;
  const mp = <i64>((m + 9) % 12); // March = 0
  const dayOfYear = (153 * mp + 2) / 5 + <i64>(d - 1);
  const dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}
