import { describe, expect, it } from 'vitest'
import { ApiError, errorMessage, parseProblem } from '../../src/lib/problem'

const json = 'application/problem+json'

describe('problem+json', () => {
  it('reads the members and collects field errors', () => {
    const body = JSON.stringify({
      type: 'https://shop.example/problems/validation_failed', title: 'Validation failed', status: 400,
      detail: 'invalid fields', code: 'validation_failed', request_id: 'abc',
      errors: [{ field: 'email', message: 'must contain one @' }, { field: 'shipping_address.city', message: 'is required' }],
    })
    const error = parseProblem(400, json, body)
    expect(error).toBeInstanceOf(ApiError)
    expect(error.status).toBe(400)
    expect(error.code).toBe('validation_failed')
    expect(error.problem.request_id).toBe('abc')
    expect(error.fields).toEqual({ email: 'must contain one @', 'shipping_address.city': 'is required' })
    expect(error.message).toBe('Please correct the highlighted fields.')
  })

  it('says known codes in words', () => {
    const error = parseProblem(409, json, JSON.stringify({ status: 409, code: 'currency_mismatch', detail: 'EUR vs USD' }))
    expect(error.message).toMatch(/another currency/)
    expect(parseProblem(404, json, JSON.stringify({ code: 'cart_not_found' })).message).toMatch(/cart has expired/)
  })

  it("uses the service's detail as a sentence otherwise", () => {
    const error = parseProblem(409, json, JSON.stringify({ status: 409, code: 'conflict', detail: 'product 42 is no longer available' }))
    expect(error.message).toBe('Product 42 is no longer available.')
  })

  it('turns rate limits into a wait time', () => {
    const error = parseProblem(429, json, JSON.stringify({ code: 'too_many_requests', detail: 'slow down' }), '30')
    expect(error.retryAfter).toBe(30)
    expect(error.message).toBe('Too many attempts. Please wait 30 seconds and try again.')
  })

  it('hides server errors behind a calm sentence', () => {
    expect(parseProblem(503, json, JSON.stringify({ code: 'service_unavailable', detail: 'pool timed out' })).message).toMatch(/busy/)
    expect(parseProblem(502, 'text/html', '<html>Bad gateway</html>').message).toMatch(/busy/)
    expect(parseProblem(504, null, '').message).toMatch(/too long/)
  })

  it('survives bodies that are not problem+json', () => {
    const error = parseProblem(418, 'application/json', '{not json')
    expect(error.code).toBe('http_418')
    expect(error.message).toBe('Something went wrong (HTTP 418).')
  })

  it('describes a network failure and anything else', () => {
    expect(new ApiError(0, {}).message).toMatch(/Cannot reach the shop/)
    expect(errorMessage(new TypeError('x'))).toBe('Something went wrong. Please try again.')
  })
})
