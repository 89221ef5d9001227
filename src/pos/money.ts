const digitsCache = new Map<string, number>();

/** Minor-unit digits of a currency (2 for USD, 0 for JPY), from the runtime's ICU data. */
export function minorDigits(currency: string): number {
  let d = digitsCache.get(currency);
  if (d === undefined) {
    d = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    digitsCache.set(currency, d);
  }
  return d;
}

/** "12.50 USD" — for the text a model reads; structured output keeps integer minor units. */
export function formatMoney(minor: number, currency: string): string {
  const d = minorDigits(currency);
  return `${(minor / 10 ** d).toFixed(d)} ${currency}`;
}
