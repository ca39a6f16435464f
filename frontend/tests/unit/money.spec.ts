import { describe, expect, it } from 'vitest'
import { formatMoney, fractionDigits, parseMajor, toMajorText } from '../../src/lib/money'

describe('money', () => {
  it('formats minor units per currency', () => {
    expect(formatMoney({ amount_minor: 1050, currency: 'EUR' }, 'en-GB')).toBe('€10.50')
    expect(formatMoney({ amount_minor: 123456, currency: 'USD' }, 'en-US')).toBe('$1,234.56')
    expect(formatMoney({ amount_minor: 1050, currency: 'JPY' }, 'en-US')).toBe('¥1,050')
    expect(formatMoney({ amount_minor: 1234, currency: 'KWD' }, 'en-US').replace(/\s/g, ' ')).toBe('KWD 1.234')
    expect(formatMoney({ amount_minor: 1050, currency: 'EUR' }, 'de-DE').replace(/\s/g, ' ')).toBe('10,50 €')
  })

  it('shows a dash for no amount', () => {
    expect(formatMoney(null)).toBe('—')
  })

  it('knows the minor-unit digits', () => {
    expect(fractionDigits('eur')).toBe(2)
    expect(fractionDigits('JPY')).toBe(0)
    expect(fractionDigits('BHD')).toBe(3)
  })

  it('parses what an admin types into minor units, exactly', () => {
    expect(parseMajor('12.5', 'EUR')).toBe(1250)
    expect(parseMajor('0.29', 'EUR')).toBe(29) // 0.29 * 100 is 28.999… in floating point
    expect(parseMajor('19,99', 'EUR')).toBe(1999)
    expect(parseMajor('1050', 'JPY')).toBe(1050)
    for (const bad of ['', '-1', '1.234', 'ten', '1.5.0']) expect(parseMajor(bad, 'EUR')).toBeNull()
    expect(parseMajor('10.5', 'JPY')).toBeNull()
  })

  it('turns minor units back into input text', () => {
    expect(toMajorText(1250, 'EUR')).toBe('12.50')
    expect(toMajorText(1050, 'JPY')).toBe('1050')
  })
})
