const MONTHS: Record<string, number> = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };

// The three forms of RFC 9110 §5.6.7 that nginx's ngx_parse_http_time reads, as [day, month, year, h, m, s]
// group numbers: IMF-fixdate (RFC 1123), RFC 850 (two-digit year) and asctime.
const FORMS: Array<[RegExp, number[]]> = [
  [/^[A-Za-z]+, *(\d{1,2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/, [1, 2, 3, 4, 5, 6]],
  [/^[A-Za-z]+, *(\d{1,2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/, [1, 2, 3, 4, 5, 6]],
  [/^[A-Za-z]+ ([A-Za-z]{3}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/, [2, 1, 6, 3, 4, 5]],
];

/** Seconds since epoch of an HTTP date, or undefined when it is not one. */
export function parseHttpDate(value: string): number | undefined {
  for (const [form, groups] of FORMS) {
    const r = form.exec(value);
    if (r === null) continue;
    const [day, month, year, h, m, s] = groups.map((g) => r[g]);
    const mon = MONTHS[month.toLowerCase()];
    let y = Number(year);
    if (year.length === 2) y += y < 70 ? 2000 : 1900;
    const [dd, hh, mm, ss] = [day, h, m, s].map(Number);
    if (mon === undefined || dd < 1 || dd > 31 || hh > 23 || mm > 59 || ss > 59) return undefined;
    return Date.UTC(y, mon, dd, hh, mm, ss) / 1000;
  }
  return undefined;
}
