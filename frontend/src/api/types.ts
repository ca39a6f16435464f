// The API's shapes, as the services serve them (docs/*.md, services/*/src/routes).
import type { Money } from '../lib/money'
export type { Money }

export interface Page<T> {
  items: T[]
  page: number
  page_size: number
  total: number
  total_pages: number
}

export interface User {
  id: string
  email: string
  name: string
  roles: string[]
  created_at: string
}

export interface TokenResponse {
  access_token: string
  token_type: string
  expires_in: number
  refresh_token: string
  refresh_expires_in: number
  user: User
}

export interface Product {
  id: string
  sku: string
  name: string
  description: string
  price: Money
  category: string | null
  attributes: Record<string, unknown>
  image_urls: string[]
  active: boolean
  low_stock_threshold: number
  in_stock: boolean
  available: number
  version: number
  created_at: string
  updated_at: string
}

export interface Category {
  slug: string
  name: string
  parent: string | null
  created_at: string
  updated_at: string
}

export interface CartLine {
  id: string
  product_id: string
  sku: string
  name: string
  unit_price: Money
  quantity: number
  line_total: Money
  available: boolean
}

export interface Cart {
  id: string | null
  currency: string | null
  item_count: number
  updated_at?: string
  subtotal: Money | null
  lines: CartLine[]
  cart_token?: string
}

export type OrderStatus = 'PENDING' | 'AWAITING_PAYMENT' | 'CONFIRMED' | 'FAILED' | 'CANCELLED' | 'SHIPPED'

export interface Address {
  name: string
  line1: string
  line2?: string | null
  city: string
  postal_code: string
  country: string
}

export interface OrderLine {
  product_id: string
  sku: string
  name: string
  quantity: number
  unit_price: Money
  line_total: Money
}

export interface StatusChange {
  from: OrderStatus | null
  to: OrderStatus
  reason: string | null
  at: string
}

export interface Order {
  id: string
  status: OrderStatus
  user_id: string | null
  email: string | null
  lines: OrderLine[]
  total: Money
  shipping_address: Address | null
  status_history: StatusChange[]
  failure_reason: string | null
  created_at: string
  updated_at: string
  order_token?: string
}

export interface OrderSummary {
  id: string
  status: OrderStatus
  user_id: string | null
  total: Money
  item_count: number
  created_at: string
  updated_at: string
}

export interface Stock {
  product_id: string
  on_hand: number
  reserved: number
  available: number
  low_stock_threshold: number
  in_stock: boolean
}

export interface TopSellingItem {
  rank: number
  product_id: string
  sku: string
  name: string
  category: string | null
  units: number
  orders: number
  revenue: Money[]
}

export interface RevenueFigures {
  currency: string
  gross_minor: number
  refunds_minor: number
  net_minor: number
  orders: number
  average_order_value_minor: number
}

export interface RevenueReport {
  interval: string
  buckets: { start: string; currencies: RevenueFigures[] }[]
  totals: RevenueFigures[]
}

export interface UsersReport {
  registrations: number
  logins: number
  active_users: number
  daily_active_users: { start: string; users: number }[]
  buyers: number
  repeat_buyers: number
  repeat_buyer_rate: number | null
  carts_with_add: number
  carts_converted: number
  cart_conversion_rate: number | null
}
