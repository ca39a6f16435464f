// Money from the API is always integer minor units with an ISO 4217 code ({amount_minor, currency}).

export interface Money {
  amount_minor: number
  currency: string
}

const digitsCache = new Map<string, number>()

/** Minor-unit digits of a currency (EUR 2, JPY 0, KWD 3), from the platform's ICU data. */
export function fractionDigits(currency: string): number {
  const code = currency.toUpperCase()
  let digits = digitsCache.get(code)
  if (digits === undefined) {
    try {
      digits = new Intl.NumberFormat('en', { style: 'currency', currency: code }).resolvedOptions()
        .maximumFractionDigits ?? 2
    } catch {
      digits = 2 // an unknown code: show it as a two-digit currency rather than fail
    }
    digitsCache.set(code, digits)
  }
  return digits
}

/** Formats minor units for people: `formatMoney({amount_minor: 1050, currency: 'EUR'}, 'en-GB')` → "€10.50". */
export function formatMoney(money: Money | null | undefined, locale?: string): string {
  if (!money) return '—'
  const digits = fractionDigits(money.currency)
  const value = money.amount_minor / 10 ** digits
  try {
    return new Intl.NumberFormat(locale, {
      style: 'currency',
      currency: money.currency.toUpperCase(),
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    }).format(value)
  } catch {
    return `${value.toFixed(digits)} ${money.currency}`
  }
}

/** "12.5" in a currency → minor units (1250); null when not a valid non-negative amount. */
export function parseMajor(text: string, currency: string): number | null {
  const trimmed = text.trim().replace(',', '.')
  const digits = fractionDigits(currency)
  const pattern = digits === 0 ? /^\d+$/ : new RegExp(`^\\d+(\\.\\d{1,${digits}})?$`)
  if (!pattern.test(trimmed)) return null
  const [whole, fraction = ''] = trimmed.split('.')
  return Number(whole) * 10 ** digits + Number(fraction.padEnd(digits, '0') || '0')
}

/** Minor units → the plain major-unit text an input shows (1250, EUR → "12.50"). */
export function toMajorText(amountMinor: number, currency: string): string {
  const digits = fractionDigits(currency)
  return digits === 0 ? String(amountMinor) : (amountMinor / 10 ** digits).toFixed(digits)
}
