// Guests follow their orders with the order token checkout returned (X-Order-Token); kept here.
import { storage } from '../lib/storage'

const KEY = 'shop.orderTokens'

export function rememberOrderToken(orderId: string, token: string): void {
  const tokens = storage.getJson<Record<string, string>>(KEY, {})
  tokens[orderId] = token
  storage.setJson(KEY, tokens)
}

export function orderToken(orderId: string): string | null {
  return storage.getJson<Record<string, string>>(KEY, {})[orderId] ?? null
}

export function orderHeaders(orderId: string): Record<string, string> {
  const token = orderToken(orderId)
  return token ? { 'x-order-token': token } : {}
}

export const OPEN_STATUSES = ['PENDING', 'AWAITING_PAYMENT'] as const
export const FINAL_STATUSES = ['FAILED', 'CANCELLED', 'SHIPPED'] as const
