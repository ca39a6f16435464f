import { vi } from 'vitest'

export interface Call {
  method: string
  url: string
  headers: Record<string, string>
  body: unknown
}

export interface Reply {
  status?: number
  body?: unknown
  headers?: Record<string, string>
  contentType?: string
}

/** Replaces fetch with a scripted server; returns the recorded calls. */
export function fakeFetch(handler: (call: Call) => Reply) {
  const calls: Call[] = []
  vi.stubGlobal('fetch', async (url: string, init: RequestInit = {}) => {
    const call: Call = {
      method: init.method ?? 'GET',
      url,
      headers: Object.fromEntries(Object.entries((init.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v])),
      body: init.body ? JSON.parse(String(init.body)) : undefined,
    }
    calls.push(call)
    const reply = handler(call)
    const status = reply.status ?? 200
    const headers = new Headers(reply.headers ?? {})
    if (reply.body !== undefined) headers.set('content-type', reply.contentType ?? (status >= 400 ? 'application/problem+json' : 'application/json'))
    return new Response(reply.body === undefined ? null : JSON.stringify(reply.body), { status, headers })
  })
  return calls
}

export function problem(status: number, code: string, detail: string, errors?: { field: string; message: string }[]) {
  return { status, body: { type: `https://shop.example/problems/${code}`, title: code, status, detail, code, request_id: 'r1', errors } }
}

export const eur = (amount_minor: number) => ({ amount_minor, currency: 'EUR' })

export function cartWith(lines: { id: string; qty: number; price: number }[]) {
  const total = lines.reduce((sum, l) => sum + l.qty * l.price, 0)
  return {
    id: 'cart-1',
    currency: lines.length ? 'EUR' : null,
    item_count: lines.reduce((n, l) => n + l.qty, 0),
    subtotal: lines.length ? eur(total) : null,
    lines: lines.map((l) => ({
      id: l.id, product_id: `p-${l.id}`, sku: `SKU-${l.id}`, name: `Product ${l.id}`,
      unit_price: eur(l.price), quantity: l.qty, line_total: eur(l.qty * l.price), available: true,
    })),
  }
}
